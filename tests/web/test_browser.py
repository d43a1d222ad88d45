"""The console in headless Chromium (Debian's, driven by Playwright): sign in, triage a
ticket, open a ticket, see a chart, erase a subject; at desktop and at a phone's width, with
the keyboard. Screenshots are kept under test-artifacts/web/ (git ignores it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import ARTIFACTS, Live

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("headless Chromium is not installed (apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is a dev dependency")


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Any, live: Live, role: str, **options: Any) -> Any:
    """A fresh context signed in as ``role`` through the sign-in form."""
    page = browser.new_context(base_url=live.url, **options).new_page()
    page.set_default_timeout(60_000)
    page.goto("/console/login")
    page.get_by_label("API key").fill(live.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/triage")
    return page


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sign_in_and_triage_a_ticket(browser: Any, live: Live) -> None:
    page = _page(browser, live, "agent")
    _shot(page, "01-triage-queue")
    card = page.locator("article.card").first
    ticket = card.locator("h2 a").inner_text()
    label = card.locator(".label").first.inner_text()
    assert "now: " not in card.inner_text()
    card.get_by_role("button", name="Accept").first.click()
    page.wait_for_url(f"**/console/triage?done={ticket}")
    assert f"Feedback recorded for {ticket}" in page.locator("main").inner_text()
    assert f"now: {label}" in page.locator("article.card").first.inner_text()
    _shot(page, "02-triage-accepted")
    feedback = live.workspace.tenant("acme").events.tail(5, "triage.feedback")
    assert any(e.ticket_id == ticket for e in feedback)


def test_open_a_ticket_and_see_its_thread(browser: Any, live: Live) -> None:
    page = _page(browser, live, "agent")
    page.get_by_role("link", name="Tickets").click()
    page.locator("table a").first.click()
    assert page.get_by_role("heading", name="Thread").is_visible()
    page.get_by_role("button", name="Reveal originals (audited)").click()
    assert page.get_by_text("originals revealed (audited)").is_visible()
    _shot(page, "03-ticket-revealed")


def test_see_a_chart(browser: Any, live: Live) -> None:
    page = _page(browser, live, "analyst")
    page.get_by_role("link", name="Analytics").click()
    chart = page.locator("svg.chart").first
    chart.wait_for()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 80
    assert page.locator("svg.chart polyline").count() >= 1
    _shot(page, "04-analytics")


def test_erase_a_subject(browser: Any, live: Live) -> None:
    page = _page(browser, live, "privacy_officer")
    customer = sorted(set(live.customers.values()))[1]
    page.get_by_role("link", name="Privacy").click()
    page.get_by_label("Subject id (or its pseudonym)").first.fill(customer)
    page.get_by_label("I understand erasure cannot be undone").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Erase subject").click()
    page.get_by_role("heading", name="Erasure report", exact=True).wait_for()
    _shot(page, "05-erased")
    assert "events_redacted" in page.locator("main").inner_text()
    reports = live.workspace.tenant("acme").privacy.reports(customer)
    assert reports and reports[-1]["events_redacted"] > 0


def test_phone_width_and_keyboard(browser: Any, live: Live) -> None:
    page = _page(browser, live, "admin", viewport={"width": 375, "height": 740},
                 is_mobile=True, has_touch=True)
    page.get_by_role("link", name="Privacy").click()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the privacy page scrolls sideways at phone width ({width}px)"
    _shot(page, "06-phone-privacy")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_every_form_field_has_a_label_and_every_page_a_heading(browser: Any, live: Live) -> None:
    page = _page(browser, live, "admin")
    unlabeled_js = """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
        .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label'))
        .map(el => el.outerHTML)"""
    ticket = next(iter(live.customers))
    for path in ("triage", "tickets", f"tickets/{ticket}", "analytics", "models", "privacy",
                 "admin"):
        page.goto(f"/console/{path}")
        assert page.evaluate(unlabeled_js) == [], path
        assert page.locator("h1").count() == 1, path
        _shot(page, f"07-admin-{path.split('/')[0]}")
