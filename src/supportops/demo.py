"""A realistic, generated support workload for ``make demo`` (no real people: Faker).

Tickets go through real lifecycles: created by a customer (text with emails, phones, order
numbers), assigned to a group, sometimes bounced to another group and back, answered by an
agent, resolved, occasionally reopened, and rated. Written as native JSON Lines so the demo
exercises the same ingestion path as any user file.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from faker import Faker

CATEGORIES: dict[str, tuple[str, list[str]]] = {
    "billing": ("Billing", [
        "I was charged twice for order {order}. Please refund the duplicate charge to my card.",
        "My invoice for {month} shows the wrong amount, can someone check? Call me on {phone}.",
        "Why did my subscription price go up? I never agreed to the new plan.",
    ]),
    "login": ("Accounts", [
        "I can't log in since the password reset, my email is {email}.",
        "Two-factor codes never arrive on {phone}, I'm locked out of my account.",
        "My account {email} was locked after too many attempts, please unlock it.",
    ]),
    "shipping": ("Logistics", [
        "Order {order} still hasn't arrived after two weeks. I live at {address}.",
        "The tracking page for {order} has not updated in 5 days.",
        "Package for order {order} was delivered to the wrong address.",
    ]),
    "refund": ("Billing", [
        "I returned order {order} a month ago and still have no refund.",
        "How long does a refund take? I sent the item back on {date}.",
    ]),
    "bug": ("Tech Support L1", [
        "The app crashes when I open the settings page on Android.",
        "Export to PDF produces an empty file since the last update.",
        "I get error 500 when uploading a photo larger than 5 MB.",
    ]),
    "feature": ("Product", [
        "Could you add dark mode to the web app? My name is {name}, happy to beta test.",
        "Please support exporting reports to CSV.",
    ]),
}
PRIORITIES = ["low", "normal", "normal", "normal", "high", "urgent"]
#: Lock-outs and double charges hurt more than feature wishes: priority leans on the category.
PRIORITY_LEAN = {"login": ["high", "urgent"], "billing": ["high"], "feature": ["low", "low"],
                 "bug": ["normal", "high"]}
#: Share of generated tickets that just arrived (created, not yet categorised or assigned).
FRESH_SHARE = 0.05
CHANNELS = ["email", "email", "web", "chat", "phone"]
AGENTS = ["agent-ana", "agent-ben", "agent-chen", "agent-dara", "agent-eli", "agent-fay"]
REPLIES = {
    "billing": "Thanks for reaching out, I have refunded the duplicate charge; it shows in 3-5 days.",
    "login": "I have reset your login; please sign in again and set a new password.",
    "shipping": "Your parcel was delayed at the depot; it is now out for delivery.",
    "refund": "Your refund was issued today; your bank may take a few days to show it.",
    "bug": "Thanks, our engineers fixed this in version 4.2; please update the app.",
    "feature": "Thanks for the idea; we've added it to our roadmap.",
}


def _event(kind: str, ticket: str, subject: str, at: datetime, payload: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "ticket_id": ticket, "subject": subject,
                         "occurred_at": at.isoformat(), "payload": payload})


def _text(fake: Faker, rng: random.Random, template: str, customer: dict[str, str]) -> str:
    return template.format(order=f"#{rng.randint(100000, 999999)}", phone=customer["phone"],
                           email=customer["email"], address=fake.address().replace("\n", ", "),
                           month=fake.month_name(), date=fake.date_this_year().isoformat(),
                           name=customer["name"])


def _lifecycle(fake: Faker, rng: random.Random, n: int, customer: dict[str, str],
               start: datetime, fresh: bool = False) -> list[bytes]:
    category = rng.choice(list(CATEGORIES))
    group, templates = CATEGORIES[category]
    ticket = f"T-{10000 + n}"
    sub = customer["id"]
    at = start
    lines = [_event("ticket.created", ticket, sub, at, {
        "text": _text(fake, rng, rng.choice(templates), customer),
        "subject_line": category.capitalize() + " issue", "channel": rng.choice(CHANNELS),
        "priority": rng.choice(PRIORITIES + PRIORITY_LEAN.get(category, [])), "status": "new",
        "customer": {"name": customer["name"], "email": customer["email"]}})]
    if fresh:  # just arrived: nobody has triaged it yet
        return lines
    at += timedelta(minutes=rng.randint(2, 90))
    lines.append(_event("ticket.categorized", ticket, sub, at, {"category": category}))
    lines.append(_event("ticket.assigned", ticket, sub, at, {"group": "Tech Support L1"
                                                            if rng.random() < 0.3 else group}))
    if rng.random() < 0.25:  # bounced to the right team, sometimes back and forth
        at += timedelta(hours=rng.uniform(0.5, 12))
        lines.append(_event("ticket.assigned", ticket, sub, at, {"group": group}))
        if rng.random() < 0.3:
            at += timedelta(hours=rng.uniform(1, 6))
            lines.append(_event("ticket.assigned", ticket, sub, at, {"group": "Tech Support L2"}))
            at += timedelta(hours=rng.uniform(1, 6))
            lines.append(_event("ticket.assigned", ticket, sub, at, {"group": group}))
    agent = rng.choice(AGENTS)
    at += timedelta(hours=rng.expovariate(1 / 6))
    lines.append(_event("ticket.assigned", ticket, sub, at, {"assignee": agent}))
    lines.append(_event("message.added", ticket, sub, at, {
        "author": "agent", "visibility": "public", "text": REPLIES[category], "author_name": agent}))
    if rng.random() < 0.15:  # still open
        return lines
    at += timedelta(hours=rng.expovariate(1 / 20))
    lines.append(_event("ticket.resolved", ticket, sub, at, {"resolution": REPLIES[category]}))
    if rng.random() < 0.08:
        at += timedelta(hours=rng.uniform(2, 48))
        lines.append(_event("ticket.reopened", ticket, sub, at, {"reason": "still broken"}))
        at += timedelta(hours=rng.uniform(1, 24))
        lines.append(_event("ticket.resolved", ticket, sub, at, {"resolution": "Fixed again."}))
    if rng.random() < 0.4:
        at += timedelta(hours=rng.uniform(1, 72))
        lines.append(_event("satisfaction.rated", ticket, sub, at,
                            {"score": rng.choice([1, 2, 3, 4, 4, 5, 5, 5])}))
    return lines


def generate(path: Path, tickets: int = 600, seed: int = 7, days: int = 60) -> Path:
    """Write a demo event log (JSON Lines) to ``path``; deterministic for a seed. The last
    ``FRESH_SHARE`` of the tickets arrived in the final day and await triage."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    customers = [{"id": f"cust-{i:04d}", "name": fake.name(), "email": fake.email(),
                  "phone": fake.phone_number()} for i in range(max(10, tickets // 4))]
    now = datetime(2026, 11, 1, tzinfo=UTC)
    fresh_from = tickets - max(1, round(tickets * FRESH_SHARE))
    with open(path, "wb") as out:
        for n in range(tickets):
            fresh = n >= fresh_from
            span = 1 if fresh else days
            start = now - timedelta(days=span) + timedelta(minutes=rng.uniform(0, span * 1440))
            for line in _lifecycle(fake, rng, n, rng.choice(customers), start, fresh):
                out.write(line + b"\n")
    return path


ARTICLES = {
    "billing": ("Duplicate or wrong charges",
                "If you were charged twice or your invoice shows the wrong amount, we refund the "
                "duplicate charge to the card you paid with; it shows in 3-5 business days."),
    "login": ("Cannot sign in or locked out",
              "After too many attempts an account is locked for safety. Reset your password "
              "from the sign-in page; if two-factor codes do not arrive, we can reset it."),
    "shipping": ("Late or missing parcels",
                 "Most delayed parcels are held at the depot. Tracking updates within 48 hours; "
                 "if the parcel went to the wrong address we reship it at no cost."),
    "refund": ("How long refunds take",
               "Refunds are issued the day we receive the returned item; your bank may take a "
               "few days to show the money back on your account."),
    "bug": ("App crashes and errors",
            "Most crashes and upload errors are fixed in the latest version: update the app. "
            "Uploads larger than 5 MB are refused with error 500 on older versions."),
    "feature": ("Feature requests",
                "We collect feature ideas such as dark mode or CSV export on our roadmap and "
                "tell you when they ship."),
}


def write_kb(folder: Path) -> Path:
    """A small knowledge base (one Markdown article per category) for the assistant."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, (title, body) in ARTICLES.items():
        (folder / f"kb-{key}.md").write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    return folder
