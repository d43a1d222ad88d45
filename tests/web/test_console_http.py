"""The console over real HTTP: sessions, CSRF, roles, tenants and pseudonymisation."""

from __future__ import annotations

import httpx
import pytest
from tests.conftest import BACKENDS
from tests.web.conftest import Live, csrf_of, sign_in

from supportops.privacy.reveal import REVEAL_ROLES


@pytest.fixture(scope="module", params=BACKENDS)
def console_backend(request: pytest.FixtureRequest) -> str:
    """These tests run on SQLite and, when configured, on PostgreSQL."""
    return str(request.param)


PAGES = ("/console/triage", "/console/tickets", "/console/analytics", "/console/models",
         "/console/privacy", "/console/admin")


def test_pages_need_a_session(live: Live) -> None:
    with httpx.Client(base_url=live.url) as client:
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/console/login"


def test_session_cookie_is_sealed_httponly_strict(live: Live) -> None:
    client = httpx.Client(base_url=live.url)
    token = csrf_of(client.get("/console/login").text)
    answer = client.post("/console/login", data={"api_key": live.keys["agent"], "csrf": token})
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("so_session="))
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/console" in flags
    secret = live.keys["agent"].rsplit("_", 1)[1]
    assert secret not in cookie and live.keys["agent"] not in cookie
    assert client.get("/console/triage").status_code == 200


def test_a_forged_or_stale_cookie_signs_nobody_in(live: Live) -> None:
    client = sign_in(live, "admin")
    sealed = client.cookies["so_session"]
    client.cookies.clear()
    client.cookies.set("so_session", sealed[:-4] + "AAAA", domain="127.0.0.1", path="/console")
    assert client.get("/console/admin").status_code == 303


def test_a_wrong_key_is_refused_without_a_session(live: Live) -> None:
    client = httpx.Client(base_url=live.url)
    token = csrf_of(client.get("/console/login").text)
    answer = client.post("/console/login", data={"api_key": "so_acme_" + "0" * 64, "csrf": token})
    assert answer.status_code == 401 and "not valid" in answer.text
    assert "so_session" not in answer.headers.get("set-cookie", "")


def test_sign_in_without_the_form_token_is_refused(live: Live) -> None:
    answer = httpx.post(f"{live.url}/console/login", data={"api_key": live.keys["admin"]})
    assert answer.status_code == 403 and "security token" in answer.text


def test_a_state_change_without_the_csrf_token_changes_nothing(live: Live) -> None:
    client = sign_in(live, "admin")
    customer = sorted(set(live.customers.values()))[-1]
    for token in (None, "forged"):
        data = {"subject": customer, "kind": "customer", "confirm": "yes"}
        if token:
            data["csrf"] = token
        answer = client.post("/console/privacy/erase", data=data)
        assert answer.status_code == 403 and "security token" in answer.text
    erasures = live.workspace.tenant("acme").audit.list(action="privacy.erase")
    assert erasures == []


def test_roles_are_checked_by_the_library_and_shown_as_403(live: Live) -> None:
    agent = sign_in(live, "agent")
    assert agent.get("/console/admin").status_code == 403
    token = csrf_of(agent.get("/console/privacy").text)
    customer = sorted(set(live.customers.values()))[0]
    answer = agent.post("/console/privacy/erase",
                        data={"subject": customer, "kind": "customer", "confirm": "yes", "csrf": token})
    assert answer.status_code == 403 and "may not erase" in answer.text
    analyst = sign_in(live, "analyst")
    assert analyst.get("/console/analytics").status_code == 200
    ticket = next(iter(live.customers))
    token = csrf_of(analyst.get(f"/console/tickets/{ticket}").text)
    assert analyst.post(f"/console/tickets/{ticket}/reveal", data={"csrf": token}).status_code == 403


def test_another_tenants_ticket_is_not_found(live: Live) -> None:
    other = sign_in(live, "other_admin")
    ticket = next(iter(live.customers))
    answer = other.get(f"/console/tickets/{ticket}")
    assert answer.status_code == 404
    assert not any(email in answer.text for email in live.emails)
    listing = other.get("/console/tickets").text
    assert not any(f">{t}<" in listing for t in live.customers)


def test_pages_never_show_an_original_until_an_allowed_role_reveals(live: Live) -> None:
    """Every page, as the admin (who may not reveal), holds pseudonyms only; an agent's reveal
    shows the ticket's own originals."""
    assert "admin" not in REVEAL_ROLES and "agent" in REVEAL_ROLES
    admin = sign_in(live, "admin")
    with_email = sorted(t for t, found in live.ticket_emails.items() if found)
    assert with_email, "the generated workload has tickets with e-mail addresses"
    for path in [*PAGES, *(f"/console/tickets/{t}" for t in with_email[:5])]:
        page = admin.get(path)
        assert page.status_code == 200, path
        leaked = [email for email in live.emails if email in page.text]
        assert leaked == [], f"{path} shows originals {leaked[:3]}"
    page = admin.get(f"/console/tickets/{with_email[0]}")
    assert "Reveal originals" not in page.text
    agent = sign_in(live, "agent")
    token = csrf_of(agent.get(f"/console/tickets/{with_email[0]}").text)
    revealed = agent.post(f"/console/tickets/{with_email[0]}/reveal", data={"csrf": token})
    assert revealed.status_code == 200
    assert live.ticket_emails[with_email[0]] <= {e for e in live.emails if e in revealed.text}


def test_responses_carry_the_security_headers(live: Live) -> None:
    page = sign_in(live, "admin").get("/console/models")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


def test_analytics_figures_match_the_source(live: Live) -> None:
    page = sign_in(live, "analyst").get("/console/analytics")
    assert f"<dt>tickets</dt><dd>{len(live.customers)}</dd>" in page.text
    assert page.text.count('<svg class="chart"') >= 3


def test_a_disabled_key_ends_its_session(live: Live) -> None:
    admin = sign_in(live, "admin")
    page = admin.get("/console/admin")
    created = admin.post("/console/admin/principals",
                         data={"name": "short-lived", "role": "agent", "csrf": csrf_of(page.text)})
    key = created.text.split('id="new-key">')[1].split("<")[0]
    assert key.startswith("so_acme_")
    live.keys["short-lived"] = key
    victim = sign_in(live, "short-lived")
    assert victim.get("/console/triage").status_code == 200
    token = csrf_of(admin.get("/console/admin").text)
    assert admin.post("/console/admin/principals/short-lived/disable",
                      data={"csrf": token}).status_code == 200
    assert victim.get("/console/triage").status_code == 303


def test_rotating_a_key_ends_the_old_session_and_the_new_key_signs_in(live: Live) -> None:
    admin = sign_in(live, "admin")
    created = admin.post("/console/admin/principals", data={
        "name": "rotated", "role": "analyst", "csrf": csrf_of(admin.get("/console/admin").text)})
    live.keys["rotated"] = created.text.split('id="new-key">')[1].split("<")[0]
    old = sign_in(live, "rotated")
    rotated = admin.post("/console/admin/principals/rotated/rotate",
                         data={"csrf": csrf_of(admin.get("/console/admin").text)})
    fresh = rotated.text.split('id="new-key">')[1].split("<")[0]
    assert fresh.startswith("so_acme_") and fresh != live.keys["rotated"]
    assert old.get("/console/analytics").status_code == 303
    live.keys["rotated"] = fresh
    assert sign_in(live, "rotated").get("/console/analytics").status_code == 200


def test_an_erasure_from_the_console_is_announced_to_its_webhook(live: Live) -> None:
    admin = sign_in(live, "admin")
    hooked = admin.post("/console/admin/webhooks", data={
        "url": "https://hooks.example.org/so", "event_types": ["erasure.completed"],
        "csrf": csrf_of(admin.get("/console/admin").text)})
    assert hooked.status_code == 200 and 'id="webhook-secret">whsec_' in hooked.text
    customer = sorted(set(live.customers.values()))[2]
    erased = admin.post("/console/privacy/erase", data={
        "subject": customer, "kind": "customer", "confirm": "yes",
        "csrf": csrf_of(admin.get("/console/privacy").text)})
    assert erased.status_code == 200 and "Erasure report" in erased.text
    assert customer not in erased.text
    deliveries = admin.get("/console/admin").text.split("Recent deliveries")[1]
    assert "erasure.completed" in deliveries


def test_the_models_page_monitors_the_champion_and_checks_it_on_request(live: Live) -> None:
    engineer = sign_in(live, "ml_engineer")
    page = engineer.get("/console/models")
    assert page.status_code == 200 and "triage: champion v1" in page.text
    checked = engineer.post("/console/models/check",
                            data={"name": "triage", "csrf": csrf_of(page.text)})
    assert checked.status_code == 200 and "Checked triage v1" in checked.text


def test_the_models_page_shows_a_version_s_model_card(live: Live) -> None:
    engineer = sign_in(live, "ml_engineer")
    page = engineer.get("/console/models")
    assert "/console/models/card?name=triage&amp;version=1" in page.text
    card = engineer.get("/console/models/card", params={"name": "triage", "version": "1"})
    assert card.status_code == 200 and "Model card: triage v1" in card.text
    for section in ("Data", "Exclusions", "Metrics by class", "Abstention", "Known limits",
                    "opted_out_subjects", "precision_when_answering"):
        assert section in card.text, section
    missing = engineer.get("/console/models/card", params={"name": "triage", "version": "99"})
    assert missing.status_code == 200 and "has no version" in missing.text
