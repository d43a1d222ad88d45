"""The database itself refuses to delete or rewrite an event: the one permitted update is a
redaction into the canonical tombstone, once, with every other column unchanged (on
PostgreSQL as the application role). Audit heads only move forward."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from supportops import Tenant
from supportops.events.log import tombstone
from supportops.governance.tables import audit_heads
from supportops.storage.schema import events
from tests.helpers import event, write_jsonl

NOW = datetime(2024, 1, 1, tzinfo=UTC)

#: Each refused change of a live event (seq 1), as values of one UPDATE.
FORBIDDEN: dict[str, dict[str, Any]] = {
    "payload rewritten": {"payload": '{"text":"rewritten"}'},
    "forged redaction (the issue's)": {
        "redacted_at": NOW, "payload": '{"category":"login","text":"FORGED wire money"}'},
    "redaction into another payload": {"redacted_at": NOW, "payload": '{"redacted":true}'},
    "redacted_at without the tombstone": {"redacted_at": NOW},
    "moved to another ticket": {"ticket_id": "T-2"},
    "moved with a redaction": {"ticket_id": "T-2", "redacted_at": NOW,
                               "payload": tombstone("erasure")},
    "subject changed": {"subject": "someone-else"},
    "idempotency key changed": {"idempotency_key": "other"},
    "hash changed": {"hash": "0" * 64},
    "payload hash changed": {"payload_hash": "0" * 64},
    "type changed": {"type": "ticket.resolved"},
    "time changed": {"occurred_at": NOW},
    "seq changed": {"seq": 99},
}


@pytest.fixture
def two_events(tenant: Tenant, tmp_path: Path) -> Tenant:
    path = write_jsonl(tmp_path / "e.jsonl", [
        event("ticket.created", "T-1", "2024-01-01T00:00:00Z", text="x"),
        event("ticket.resolved", "T-1", "2024-01-02T00:00:00Z")])
    assert tenant.ingest(path, format="jsonl").accepted == 2
    return tenant


def _update(tenant: Tenant, seq: int, values: dict[str, Any]) -> None:
    with tenant.workspace.db.begin("acme") as conn:
        conn.execute(update(events).where(events.c.tenant_id == "acme", events.c.seq == seq)
                     .values(**values))


def test_delete_is_refused(two_events: Tenant) -> None:
    db = two_events.workspace.db
    with pytest.raises(DBAPIError, match="append-only"), db.begin("acme") as conn:
        conn.execute(delete(events).where(events.c.tenant_id == "acme"))
    assert two_events.events.count() == 2


@pytest.mark.parametrize("change", sorted(FORBIDDEN))
def test_each_forbidden_update_is_refused(two_events: Tenant, change: str) -> None:
    before = two_events.events.tail(2)
    with pytest.raises(DBAPIError, match="append-only"):
        _update(two_events, 1, FORBIDDEN[change])
    assert two_events.events.tail(2) == before


def test_redaction_into_the_tombstone_is_allowed_once(two_events: Tenant) -> None:
    first = two_events.events.tail(2)[0]
    _update(two_events, 1, {"payload": tombstone("erasure"), "redacted_at": NOW})
    redacted = two_events.events.tail(2)[0]
    assert redacted.payload == {"redacted": "erasure"} and redacted.hash == first.hash
    for again in ({"redacted_at": datetime(2025, 1, 1, tzinfo=UTC)},
                  {"payload": tombstone("retention")}, {"redacted_at": None}):
        with pytest.raises(DBAPIError, match="append-only"):
            _update(two_events, 1, again)


def test_audit_head_only_moves_forward(two_events: Tenant) -> None:
    two_events.audit.record("test.action")
    db = two_events.workspace.db
    with pytest.raises(DBAPIError, match="append-only"), db.begin("acme") as conn:
        conn.execute(delete(audit_heads))
    with pytest.raises(DBAPIError, match="append-only"), db.begin("acme") as conn:
        conn.execute(update(audit_heads).values(seq=audit_heads.c.seq - 1))
    with pytest.raises(DBAPIError, match="append-only"), db.begin("acme") as conn:
        conn.execute(text("UPDATE audit_log SET action = 'x'"))
    assert two_events.audit.verify().ok
