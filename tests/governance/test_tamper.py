"""Issue 9, done-when 1: each tamper, applied to a copy of an anchored workspace with its
triggers dropped (as an attacker with the file, or PostgreSQL's superuser), makes
``supportops audit verify --anchor`` exit 1 naming the problem; the untouched copy exits 0.

The source workspace: six events of two subjects, one subject erased (three legitimate
redactions with their audit entry), an anchor written outside the workspace, then two more
events (heads past the anchor are fine)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Connection, create_engine, make_url, select, text, update
from typer.testing import CliRunner

from supportops import Workspace
from supportops.cli.main import app
from supportops.events.log import GENESIS, chain_hash, payload_hash
from supportops.governance.audit import AuditEntry, entry_content
from supportops.governance.seal import AuditSealer
from supportops.governance.tables import audit_heads, audit_log
from supportops.storage.schema import events
from supportops.workspace import DB_FILE
from tests.helpers import event, write_jsonl

A = "<CUSTOMER_00000000000000aa>"
B = "<CUSTOMER_00000000000000bb>"
Tamper = Callable[[Connection], None]


@dataclass
class Source:
    path: Path
    url: str | None
    anchor: Path


@pytest.fixture
def source(workspace: Workspace, tmp_path: Path) -> Source:
    workspace.privacy_factory = None  # subjects arrive as tokens; no PII detection needed
    workspace.create_tenant("acme")
    acme = workspace.tenant("acme")
    lines = [event("ticket.created", "T-1", "2024-01-01T00:00:00Z", A, text="a"),
             event("message.added", "T-1", "2024-01-01T01:00:00Z", A, author="customer",
                   text="more"),
             event("ticket.created", "T-2", "2024-01-02T00:00:00Z", B, text="b"),
             event("ticket.resolved", "T-2", "2024-01-03T00:00:00Z", B),
             event("ticket.created", "T-3", "2024-01-04T00:00:00Z", A, text="c"),
             event("ticket.created", "T-4", "2024-01-05T00:00:00Z", B, text="d")]
    assert acme.ingest(write_jsonl(tmp_path / "a.jsonl", lines), "jsonl").accepted == 6
    assert acme.privacy.erase(A)["events_redacted"] == 3
    acme.audit.record("test.action", details={"n": 1})
    anchor = tmp_path / "anchor.json"
    acme.audit.anchor(anchor)
    later = [event("ticket.created", "T-5", "2024-02-01T00:00:00Z", B, text="e"),
             event("ticket.resolved", "T-5", "2024-02-02T00:00:00Z", B)]
    assert acme.ingest(write_jsonl(tmp_path / "b.jsonl", later), "jsonl").accepted == 2
    workspace.db.checkpoint()
    workspace.close()
    return Source(workspace.path, workspace.db.url if workspace.db.is_postgres else None,
                  anchor)


@contextmanager
def copy_of(src: Source, tmp: Path) -> Iterator[tuple[Path, str | None]]:
    """A copy of the workspace folder (and, on PostgreSQL, of its database)."""
    tag = uuid.uuid4().hex[:8]
    dest = tmp / f"copy-{tag}"
    shutil.copytree(src.path, dest)
    if src.url is None:
        yield dest, None
        return
    url = make_url(src.url)
    name = f"{url.database}_{tag}"
    admin = create_engine(_as_admin(src.url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    try:
        yield dest, url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _as_admin(url: str, database: str | None = None) -> str:
    """The suite's superuser login to ``url``'s database (or ``database``): the attacker who
    holds the server; the workspace itself logs in as the application role."""
    name = database or make_url(url).database
    base = make_url(os.environ["SUPPORTOPS_TEST_DATABASE_URL"])
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        for (name,) in names.all():
            conn.execute(text(f"DROP TRIGGER {name}"))
        return
    rows = conn.execute(text("SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c "
                             "ON c.oid = t.tgrelid WHERE NOT t.tgisinternal")).all()
    for name, table in rows:
        conn.execute(text(f"DROP TRIGGER {name} ON {table}"))


def _tamper(dest: Path, url: str | None, tamper: Tamper) -> None:
    """As the attacker: the file itself, or PostgreSQL's superuser, triggers dropped."""
    engine = create_engine(_as_admin(url) if url else f"sqlite:///{dest / DB_FILE}")
    with engine.begin() as conn:
        _drop_triggers(conn)
        tamper(conn)
    engine.dispose()


def _verify(dest: Path, url: str | None, anchor: Path) -> tuple[int, dict[str, object]]:
    env = {"SUPPORTOPS_WORKSPACE": str(dest)}
    if url:
        env["SUPPORTOPS_DATABASE_URL"] = url
    result = CliRunner().invoke(app, ["audit", "verify", "--tenant", "acme", "--anchor",
                                      str(anchor), "--json"], env=env)
    return result.exit_code, orjson.loads(result.stdout)


def _sql(*statements: str) -> Tamper:
    def run(conn: Connection) -> None:
        for statement in statements:
            conn.exec_driver_sql(statement)
    return run


def _rechain_events(conn: Connection) -> None:
    """Recompute every content hash and link with the code's own (unkeyed) functions."""
    prev = GENESIS
    for row in conn.execute(select(events).order_by(events.c.seq)).all():
        content = payload_hash(row.payload) if row.redacted_at is None else row.payload_hash
        prev = chain_hash(prev, row.tenant_id, row.seq, row.id, row.type, row.ticket_id,
                          row.subject, row.occurred_at, row.idempotency_key, content)
        conn.execute(update(events).where(events.c.seq == row.seq)
                     .values(payload_hash=content, hash=prev))


def _rechain_audit(digest: Callable[[bytes], str]) -> Tamper:
    """Recompute every entry's hash and the head with ``digest`` (the attacker's best)."""
    def run(conn: Connection) -> None:
        prev, last = GENESIS, 0
        for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)).all():
            entry = AuditEntry(row.seq, row.at, row.actor, row.role, row.action, row.subject,
                               {}, prev)
            prev, last = digest(entry_content(row.tenant_id, entry, row.details)), row.seq
            conn.execute(update(audit_log).where(audit_log.c.seq == row.seq)
                         .values(prev_hash=entry.prev_hash, hash=prev))
        conn.execute(update(audit_heads).values(seq=last, hash=prev))
    return run


def _unkeyed(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _truncate_audit(conn: Connection) -> None:
    """Delete the last two entries and move the head back to the new last one."""
    last = conn.execute(select(audit_log).order_by(audit_log.c.seq.desc()).offset(2)
                        .limit(1)).one()
    conn.execute(text(f"DELETE FROM audit_log WHERE seq > {last.seq}"))
    conn.execute(update(audit_heads).values(seq=last.seq, hash=last.hash))


FORGED = '{"category":"login","text":"FORGED wire money to attacker"}'
EDIT_ERASURE = ("UPDATE audit_log SET details = REPLACE(details, '\"events_redacted\":3', "
                "'\"events_redacted\":0') WHERE action = 'privacy.erase'")
REWRITE = "UPDATE events SET payload = '{\"text\":\"x\"}' WHERE seq = 3"


def _rewrite_and_rechain(conn: Connection) -> None:
    _sql(REWRITE)(conn)
    _rechain_events(conn)


def _edit_erasure_entry(digest: Callable[[bytes], str]) -> Tamper:
    def run(conn: Connection) -> None:
        _sql(EDIT_ERASURE)(conn)
        _rechain_audit(digest)(conn)
    return run


#: name -> (tamper, where the first problem is, what its message says)
TAMPERS: dict[str, tuple[Tamper, str, str]] = {
    "forged redaction (the issue's UPDATE)": (_sql(
        f"UPDATE events SET redacted_at = '2024-01-01 00:00:00', payload = '{FORGED}' "
        "WHERE seq = 3"), "events", r"event #3 is marked redacted .* forged redaction"),
    "forged redaction into the tombstone": (_sql(
        "UPDATE events SET redacted_at = '2024-01-01 00:00:00', "
        "payload = '{\"redacted\":\"erasure\"}' WHERE seq = 3"),
        "redactions", r"event #3 is redacted but no audit entry records"),
    "deleted event": (_sql("DELETE FROM events WHERE seq = 4"), "events",
                      r"event #4 is missing"),
    "event moved to another ticket": (_sql("UPDATE events SET ticket_id = 'T-2' WHERE seq = 6"),
                                      "events", r"event #6 was changed"),
    "rewritten payload": (_sql(REWRITE), "events", r"event #3 was rewritten"),
    "rewritten payload, chain recomputed": (
        _rewrite_and_rechain, "anchor", r"event #6 differs from the anchored one"),
    "audit entry rewritten, hashes recomputed unkeyed": (
        _edit_erasure_entry(_unkeyed), "audit", r"entry #1 was edited"),
    "audit entry rewritten, hashes recomputed under a guessed key": (
        _edit_erasure_entry(AuditSealer("acme", os.urandom(32)).mac), "audit",
        r"entry #1 was edited"),
    "truncated audit chain (last entries and head)": (
        _truncate_audit, "anchor", r"audit entry #\d+ named by the anchor is missing"),
    "wiped audit chain": (_sql("DELETE FROM audit_log", "DELETE FROM audit_heads"), "anchor",
                          r"audit entry #\d+ named by the anchor is missing: the chain was "
                          r"truncated or wiped"),
    "wiped events": (_sql("DELETE FROM events"), "events", r"events #1 to #8 are missing"),
    "wiped events and their counter": (_sql("DELETE FROM events",
                                            "UPDATE tenants SET last_seq = 0"),
                                       "anchor", r"event #6 named by the anchor is missing"),
}


def test_each_tamper_is_named_and_the_untouched_copy_holds(source: Source,
                                                           tmp_path: Path) -> None:
    with copy_of(source, tmp_path) as (dest, url):
        code, result = _verify(dest, url, source.anchor)
        assert code == 0 and result["ok"], result
        assert result["anchor"] and result["events"]["head_seq"] == 8  # type: ignore[index]
    missed = []
    for name, (tamper, where, pattern) in TAMPERS.items():
        with copy_of(source, tmp_path) as (dest, url):
            _tamper(dest, url, tamper)
            code, result = _verify(dest, url, source.anchor)
        if code != 1 or result["where"] != where or \
                not re.search(pattern, str(result["problem"])):
            missed.append(f"{name}: exit {code}, {result['where']}: {result['problem']}")
    assert not missed, "\n".join(missed)


def test_an_edited_anchor_is_refused(source: Source, tmp_path: Path) -> None:
    data = orjson.loads(source.anchor.read_bytes())
    data["statement"]["events"]["seq"] = 2
    edited = tmp_path / "edited.json"
    edited.write_bytes(orjson.dumps(data))
    with copy_of(source, tmp_path) as (dest, url):
        code, result = _verify(dest, url, edited)
    assert code == 1 and "signature is not valid" in str(result["problem"])
