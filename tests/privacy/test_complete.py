"""Invariant 2, by construction: personal data placed anywhere in a payload (undeclared
fields, nested attributes, lists, attribute names, codes that are not codes) or in an
idempotency key is never stored in clear, on either back-end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportops import Tenant
from supportops.events import classification
from supportops.events.catalogue import CORE
from supportops.events.classification import FREE, LABEL, Identity

from .conftest import Scan

FIRST = ["Maria", "Jonas", "Aisha", "Wojciech", "Siobhan", "Kenji", "Lucia", "Tomasz"]
LAST = ["Okonkwo", "Lindqvist", "Fernandes", "Brzezinski", "Nakamura", "Delacroix"]
_serial = count(1)


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str
    card: str

    def values(self) -> list[str]:
        return [self.name, self.email, self.phone, self.card]


def _luhn(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


@st.composite
def people(draw: st.DrawFn) -> Person:
    first, last = draw(st.sampled_from(FIRST)), draw(st.sampled_from(LAST))
    n = next(_serial)
    digits = draw(st.integers(10**13, 10**14 - 1))
    return Person(f"{first} {last}", f"{first.lower()}.{last.lower()}{n}@mail{n}.example.org",
                  f"+44 20 7946 {n % 10000:04d}", _luhn(f"4{digits}"))


Place = Callable[[Person], dict[str, object]]
#: Where a value goes: undeclared fields, nested attributes, lists, names, fake codes.
PLACES: list[Place] = [
    lambda p: {"attributes": {"note": f"call {p.name} on {p.phone}"}},
    lambda p: {"attributes": {"meta": {"deep": [p.email, {"card": p.card}]}}},
    lambda p: {"attributes": {"x1": [p.card, p.name]}},
    lambda p: {"attributes": {p.email: "key holds it"}},
    lambda p: {"attributes": {"contact_phone": p.phone, "owner_name": p.name}},
    lambda p: {"state": {"attributes": {"remark": p.email, "sub": {"who": p.name}}}},
    lambda p: {"channel": p.email, "category": p.card},
    lambda p: {"customer": {"name": p.name, "email": p.email, "phone": p.phone}},
]


def _record(i: int, person: Person, places: list[Place], key_in_id: bool) -> dict[str, object]:
    payload: dict[str, object] = {"text": "Hello, my parcel is late."}
    for place in places:
        for field, value in place(person).items():
            if isinstance(value, dict) and isinstance(payload.get(field), dict):
                payload[field] = {**payload[field], **value}  # type: ignore[dict-item]
            else:
                payload[field] = value
    record: dict[str, object] = {
        "type": "ticket.created", "ticket_id": f"T-{next(_serial)}", "subject": f"C-{i}",
        "occurred_at": "2024-05-01T10:00:00Z", "payload": payload}
    if key_in_id:
        record["idempotency_key"] = f"{person.email}|{person.phone}|{person.card}"
    return record


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(people(), st.lists(st.sampled_from(PLACES), min_size=1, max_size=4),
                          st.booleans()), min_size=1, max_size=4))
def test_pii_anywhere_is_never_stored_in_clear(tenant: Tenant, scan: Scan, tmp_path: Path,
                                               cases: list[tuple[Person, list[Place], bool]]
                                               ) -> None:
    path = tmp_path / f"in-{next(_serial)}.jsonl"
    records = [_record(i, person, places, key) for i, (person, places, key) in enumerate(cases)]
    path.write_bytes(b"\n".join(orjson.dumps(record) for record in records))
    report = tenant.ingest(path, "jsonl")
    assert report.rejected == 0, report.as_dict()
    assert report.accepted == len(cases)
    values = [v for person, _, _ in cases for v in person.values()]
    assert scan(values) == []
    # the text around the personal data has none of its own: it reads back as written
    texts = [tenant.tickets.get(str(record["ticket_id"]))["events"][0]["payload"]["text"]
             for record in records]
    assert texts == ["Hello, my parcel is late."] * len(records)


def test_every_string_has_a_declared_class_or_is_free_text() -> None:
    payload = {"text": "t", "channel": "email", "assignee": "Ann",
               "customer": {"name": "Ann", "extra": "x"},
               "attributes": {"made_sla": "true", "caller": "Bob", "opened_by": "Eve",
                              "note": "n", "deep": {"list": ["a"]}},
               "state": {"status": "Active", "attributes": {"impact": "2 - Medium"}}}
    found = {(str(key), repr(cls)) for _, key, cls in
             classification.strings(CORE.classes("ticket.created"), payload)}
    assert ("text", repr(FREE)) in found and ("channel", repr(LABEL)) in found
    assert ("assignee", repr(Identity("PERSON", "agent"))) in found
    assert ("extra", repr(FREE)) in found and ("note", repr(FREE)) in found
    assert ("0", repr(FREE)) in found  # a list item under an undeclared attribute
    assert ("caller", repr(Identity("PERSON", "customer"))) in found
    assert ("opened_by", repr(Identity("PERSON", "employee"))) in found
    assert ("made_sla", repr(classification.BOOL)) in found
    assert not LABEL.accepts("ann@example.org") and not LABEL.accepts("+44 20 7946 0018")
