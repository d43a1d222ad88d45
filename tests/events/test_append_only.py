"""The database itself refuses to delete or rewrite an event; only redaction may update one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from supportops import Tenant
from supportops.storage.schema import events
from tests.helpers import event, write_jsonl


def _one_event(tenant: Tenant, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "e.jsonl", [event("ticket.created", "T-1",
                                                    "2024-01-01T00:00:00Z", text="x")])
    tenant.ingest(path, format="jsonl")


def test_delete_is_refused(tenant: Tenant, tmp_path: Path) -> None:
    _one_event(tenant, tmp_path)
    db = tenant.workspace.db
    with pytest.raises(DBAPIError, match="append-only"), db.begin("acme") as conn:
        conn.execute(delete(events).where(events.c.tenant_id == "acme"))
    assert tenant.events_count() == 1


def test_rewrite_is_refused_but_redaction_is_allowed(tenant: Tenant, tmp_path: Path) -> None:
    _one_event(tenant, tmp_path)
    db = tenant.workspace.db
    with pytest.raises(DBAPIError, match="append-only"), db.begin("acme") as conn:
        conn.execute(update(events).where(events.c.tenant_id == "acme").values(payload="{}"))
    with pytest.raises(DBAPIError, match="append-only"), db.begin("acme") as conn:
        conn.execute(update(events).where(events.c.tenant_id == "acme").values(
            hash="0" * 64, payload="{}", redacted_at=events.c.recorded_at))
    with db.begin("acme") as conn:
        conn.execute(update(events).where(events.c.tenant_id == "acme").values(
            payload='{"redacted": true}', redacted_at=events.c.recorded_at))
    assert tenant.events_tail(1)[0].payload == {"redacted": True}
