"""Migration 0005_integrity upgrades an existing workspace: the event chain is backfilled,
earlier redactions become canonical tombstones recorded by an ``audit.upgrade`` entry, the
audit chain is re-keyed, and the new triggers guard what follows. Also: a context without
the audit key cannot write or check the chain."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from alembic import command
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError

from supportops import ConfigError, Tenant, Workspace
from supportops.governance.audit import AuditEntry, entry_content
from supportops.governance.tables import audit_heads, audit_log
from supportops.privacy.keys import INTEGRITY_FILE
from supportops.storage import Database
from supportops.storage.database import alembic_config
from supportops.storage.schema import events, tenants
from supportops.workspace import DB_FILE
from tests.helpers import event, write_jsonl

T0 = datetime(2024, 1, 1, tzinfo=UTC)
LEGACY_EVENTS = [  # (payload as stored then, redacted)
    ('{"text":"hello"}', False),
    ('{"redacted":"erasure"}', True),
    ('{"redacted":"retention","text":""}', True),  # retention used to keep a stripped payload
]


def _old_workspace(root: Path, url: str | None) -> Database:
    """A database at the schema before 0005_integrity (foundation and privacy only)."""
    root.mkdir(parents=True)
    db = Database(url) if url else Database.sqlite(root / DB_FILE)
    with db.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002_privacy")
    return db


def _legacy_rows(db: Database) -> None:
    """Events with the old per-event content hash and an unkeyed audit chain of two entries."""
    with db.begin(None) as conn:
        conn.execute(insert(tenants).values(id="acme", name="Acme", created_at=T0, last_seq=3))
    with db.begin("acme") as conn:
        for seq, (payload, redacted) in enumerate(LEGACY_EVENTS, start=1):
            conn.execute(insert(events).values(
                tenant_id="acme", seq=seq, id=f"id-{seq}", subject="s", type="ticket.created",
                ticket_id=None if redacted else f"T-{seq}", occurred_at=T0 + timedelta(hours=seq),
                recorded_at=T0, payload=payload, idempotency_key=f"k{seq}",
                hash=hashlib.sha256(f"old {seq}".encode()).hexdigest(),
                redacted_at=T0 if redacted else None))
        prev = "0" * 64
        for seq in (1, 2):
            entry = AuditEntry(seq, T0, "owner", "admin", "privacy.erase", "s", {}, prev)
            digest = hashlib.sha256(entry_content("acme", entry, "{}")).hexdigest()
            conn.execute(insert(audit_log).values(
                tenant_id="acme", seq=seq, at=T0, actor="owner", role="admin",
                action="privacy.erase", subject="s", details="{}", prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(insert(audit_heads).values(tenant_id="acme", seq=2, hash=prev))


def test_upgrade_backfills_chain_and_rekeys_audit(tmp_path: Path,
                                                  database_url: str | None) -> None:
    root = tmp_path / "ws"
    old = _old_workspace(root, database_url)
    _legacy_rows(old)
    old.dispose()
    with Workspace.init(root, database_url=database_url) as ws:
        acme = ws.tenant("acme")
        report = acme.audit.verify()
        assert report.ok, report.problem
        assert report.events["checked"] == 3 and report.events["redacted"] == 2
        upgrade = acme.audit.list(action="audit.upgrade")
        assert len(upgrade) == 1 and upgrade[0].details["redacted_seqs"] == [[2, 3]]
        assert upgrade[0].details["rekeyed_entries"] == 2
        assert upgrade[0].details["legacy_chain"] == "intact"
        assert [e.payload for e in acme.events.tail(3)][1:] == [
            {"redacted": "erasure"}, {"redacted": "retention"}]
        with pytest.raises(DBAPIError, match="append-only"), ws.db.begin("acme") as conn:
            conn.execute(update(events).where(events.c.seq == 1).values(ticket_id="T-9"))
        path = write_jsonl(tmp_path / "new.jsonl", [
            event("ticket.created", "T-9", "2024-03-01T00:00:00Z", text="after")])
        assert acme.ingest(path, "jsonl").accepted == 1
        after = acme.audit.verify()
        assert after.ok and after.events["head_seq"] == 4, after.problem
        with ws.db.begin("acme") as conn:
            hashes = conn.execute(select(events.c.payload_hash)).scalars().all()
        assert all(h and len(h) == 64 for h in hashes)


def test_a_context_without_the_audit_key_cannot_write_the_chain(tenant: Tenant) -> None:
    bare = replace(tenant.ctx, sealer=None)
    with pytest.raises(ConfigError, match="audit key"):
        Tenant(tenant.workspace, bare).audit.record("test.action")
    with pytest.raises(ConfigError, match="audit key"):
        Tenant(tenant.workspace, bare).audit.verify()


def test_another_integrity_secret_breaks_verification(tenant: Tenant, tmp_path: Path) -> None:
    """The chain's key lives outside the database: a database moved under another key file
    (or edited by someone who guessed one) does not verify."""
    tenant.audit.record("test.action")
    assert tenant.audit.verify().ok
    (tenant.path / INTEGRITY_FILE).write_text(base64.b64encode(b"A" * 32).decode())
    other = tenant.workspace.tenant("acme")
    result = other.audit.verify()
    assert not result.ok and result.bad_seq == 1 and "edited" in (result.problem or "")
    anchor = orjson.loads(orjson.dumps(tenant.audit.anchor()))
    assert "signature" in anchor and not other.audit.verify(anchor=anchor).ok
