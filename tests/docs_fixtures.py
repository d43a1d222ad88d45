"""Small stand-ins for the files the README's commands name, generated with a seeded Faker, so
that the docs test can run every command on a fresh workspace in seconds.

Each writer makes the file a README command reads, under the name the README gives it, and
holds what the commands after it expect: ticket T-1 of customer cust-42 (with a name and an
e-mail to reveal), cust-43, T-42 and T-1001 in ``tickets.csv``; an agent called "Resolver 17"
in the incident log; intents ``refund`` and ``card_lost`` in the training file.
"""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from faker import Faker

INTENTS = {
    "card_arrival": ["my new card has not arrived", "when will my card be delivered",
                     "still waiting for the card you posted", "card delivery is taking ages"],
    "card_lost": ["I lost my card", "my card was stolen yesterday", "please block my lost card",
                  "I cannot find my bank card anywhere"],
    "refund": ["I want a refund for my order", "where is my refund",
               "the refund has not reached my account", "please refund the double charge"],
    "transfer_failed": ["my transfer failed", "the bank transfer did not go through",
                        "money transfer was declined", "why did my payment transfer fail"],
}
OPENERS = ["", "hello, ", "hi there, ", "urgent: ", "please help, ", "good morning, ",
           "sorry to bother you, ", "quick question: "]
TOPICS = {  # category -> (subject line, customer text, agent resolution)
    "billing": ("Charged twice", "I was charged twice for order {n}, please refund one.",
                "Refunded the duplicate charge for order {n}; it shows within 5 days."),
    "access": ("Locked out", "I cannot log in since the password reset, account {n}.",
               "Unlocked account {n} and sent a new reset link."),
    "delivery": ("Parcel late", "My parcel for order {n} is a week late, where is it?",
                 "The carrier lost order {n}; we shipped a replacement today."),
}
PRIORITIES = ["1 - Critical", "2 - High", "3 - Moderate"]
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def _fake() -> Faker:
    fake = Faker("en_GB")
    fake.seed_instance(20)
    return fake


def tickets_csv(path: Path) -> None:
    """70 tickets of the CSV format; T-1 is cust-42's, T-2 cust-43's, the rest spread over 20
    customers; most are resolved with the agent's answer (knowledge for the assistant)."""
    fake, rng = _fake(), random.Random(20)
    ids = [f"T-{i}" for i in range(1, 61)] + [f"T-{i}" for i in range(1001, 1011)]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["ticket_id", "customer_id", "customer_name", "customer_email",
                      "created_at", "subject_line", "text", "channel", "category",
                      "priority", "group", "status", "resolved_at", "resolution"])
        for n, ticket in enumerate(ids):
            customer = {0: "cust-42", 1: "cust-43"}.get(n, f"cust-{100 + n % 20}")
            category = list(TOPICS)[n % len(TOPICS)]
            subject, text, answer = TOPICS[category]
            opened = START + timedelta(hours=11 * n)
            resolved = n % 5 != 4
            out.writerow([ticket, customer, fake.name(), fake.email(), opened.isoformat(),
                          subject, f"{text.format(n=7000 + n)} {fake.name()} here.", "email",
                          category, rng.choice(PRIORITIES), f"{category.title()} team",
                          "resolved" if resolved else "open",
                          (opened + timedelta(hours=rng.randint(2, 90))).isoformat()
                          if resolved else "", answer.format(n=7000 + n) if resolved else ""])


def incident_log(path: Path) -> None:
    """The ServiceNow incident audit log's columns, 12 incidents of 3 records each (new,
    active, resolved), day-first dates and '?' for missing; Resolver 17 works on some."""
    header = ["number", "incident_state", "active", "reassignment_count", "reopen_count",
              "sys_mod_count", "made_sla", "caller_id", "opened_by", "opened_at",
              "sys_created_by", "sys_created_at", "sys_updated_by", "sys_updated_at",
              "contact_type", "location", "category", "subcategory", "u_symptom", "cmdb_ci",
              "impact", "urgency", "priority", "assignment_group", "assigned_to", "knowledge",
              "u_priority_confirmation", "notify", "problem_id", "rfc", "vendor", "caused_by",
              "closed_code", "resolved_by", "resolved_at", "closed_at"]
    rows = []
    for n in range(12):
        opened = START + timedelta(hours=7 * n)
        done = opened + timedelta(hours=5 + n)
        for step, state in enumerate(["New", "Active", "Resolved"]):
            at = opened + timedelta(hours=2 * step)
            values = {"number": f"INC{n:07d}", "incident_state": state, "active": "true",
                      "reassignment_count": "0", "reopen_count": "0",
                      "sys_mod_count": str(step), "made_sla": "true",
                      "caller_id": f"Caller {300 + n}", "opened_by": f"Opened by {n % 4}",
                      "opened_at": _day_first(opened), "sys_created_by": "Created by 6",
                      "sys_created_at": _day_first(opened), "sys_updated_by": "Updated by 9",
                      "sys_updated_at": _day_first(at), "contact_type": "Phone",
                      "location": f"Location {n % 3}", "category": f"Category {n % 4}",
                      "subcategory": f"Subcategory {n % 5}", "u_symptom": "Symptom 1",
                      "impact": "2 - Medium", "urgency": "2 - Medium",
                      "priority": PRIORITIES[n % 3], "assignment_group": f"Group {n % 3}",
                      "assigned_to": "Resolver 17" if n % 2 else f"Resolver {20 + n}",
                      "knowledge": "false", "u_priority_confirmation": "false",
                      "notify": "Do Not Notify", "closed_code": "code 5",
                      "resolved_by": "Resolved by 4", "resolved_at": _day_first(done),
                      "closed_at": _day_first(done + timedelta(days=5))}
            rows.append(",".join(values.get(column, "?") for column in header))
    with gzip.open(path, "wt", newline="") as handle:
        handle.write("\n".join([",".join(header), *rows]) + "\n")


def _day_first(at: datetime) -> str:
    return f"{at.day}/{at.month}/{at.year} {at:%H:%M}"


def _intent_rows(openers: list[str]) -> list[tuple[str, str]]:
    return [(f"{opener}{text}", label) for label, texts in INTENTS.items()
            for opener in openers for text in texts]


def train_csv(path: Path) -> None:
    """Banking77's format (``text,category``): 32 questions for each of 4 intents."""
    _write_banking(path, _intent_rows(OPENERS))


def heldout_csv(path: Path) -> None:
    """Held-out questions of the same intents, with openers the training file has not."""
    _write_banking(path, _intent_rows(["hey, ", "dear team, "]))


def _write_banking(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["text", "category"])
        out.writerows(rows)


def texts_jsonl(path: Path) -> None:
    """Texts for ``pii detect``: ``{"id", "text"}``, some with a name, e-mail or phone."""
    fake = _fake()
    _write_jsonl(path, [{"id": f"x{i}", "text": f"Please call {fake.name()} on "
                         f"{fake.phone_number()} or write to {fake.email()}."}
                        for i in range(3)] + [{"id": "x3", "text": "My parcel is late."}])


def new_jsonl(path: Path) -> None:
    """Two questions to triage: one the model knows, one it should not."""
    _write_jsonl(path, [{"id": 1, "text": "my card has still not arrived"},
                        {"id": 2, "text": "what is the weather in Lisbon"}])


def stream_jsonl(path: Path) -> None:
    """250 labelled questions, one ``monitor report`` window."""
    rows = _intent_rows([*OPENERS, "hey, ", "dear team, "])
    _write_jsonl(path, [{"id": i, "text": rows[i % len(rows)][0],
                         "label": rows[i % len(rows)][1]} for i in range(250)])


def bitext_csv(path: Path) -> None:
    """Bitext's columns, 8 articles on orders and refunds."""
    questions = [("how do I cancel my order", "cancel_order", "ORDER",
                  "Open {{Order History}}, pick the order and choose Cancel."),
                 ("where is my refund", "track_refund", "REFUND",
                  "Refunds reach your account within 5 working days."),
                 ("how can I change my delivery address", "change_shipping_address",
                  "SHIPPING", "Edit the address under {{Account Settings}} before dispatch."),
                 ("I forgot my password", "recover_password", "ACCOUNT",
                  "Use the Forgot password link on the sign-in page.")]
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["row_id", "context", "role", "instruction", "intent", "entity_type",
                      "entity_value", "start_offset", "end_offset", "category", "tags",
                      "response"])
        for n, (question, intent, category, answer) in enumerate(questions * 2):
            asked = question if n < len(questions) else f"please tell me {question}"
            out.writerow([n, "customer support", "virtual assistant", asked, intent, "", "",
                          "", "", category, "BL", answer])


def _write_jsonl(path: Path, lines: list[dict[str, object]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


#: The files README commands read, by the name the README gives them.
FILES: dict[str, Callable[[Path], None]] = {
    "incident_event_log.csv.gz": incident_log, "tickets.csv": tickets_csv,
    "texts.jsonl": texts_jsonl, "train.csv": train_csv, "test.csv": heldout_csv,
    "new.jsonl": new_jsonl, "stream.jsonl": stream_jsonl,
    "bitext_customer_support_train.csv": bitext_csv,
}


def write_all(folder: Path) -> None:
    """Every file of :data:`FILES` in ``folder``."""
    for name, write in FILES.items():
        write(folder / name)
