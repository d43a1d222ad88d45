"""Every person is a subject; content at rest is sealed under its subject's key (both
back-ends; on PostgreSQL the server's data files are scanned too)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine, select, text

from supportops import NotFound, Tenant
from supportops.privacy.tables import subject_keys, vault
from supportops.storage.schema import events, tickets
from tests.helpers import admin_url

from .conftest import Scan

PHRASE = "zebra-quartz-771"
OTHER = "walrus-onyx-552"


def _ingest(tenant: Tenant, tmp_path: Path) -> None:
    rows = [
        {"type": "ticket.created", "ticket_id": "T-1", "subject": "C1",
         "occurred_at": "2024-05-01T10:00:00Z",
         "payload": {"subject_line": f"About {PHRASE}", "assignee": "Resolver 17",
                     "text": f"My code {PHRASE} fails. Ask my colleague Priya Raman.",
                     "customer": {"name": "Olga Kowalczyk", "email": "olga@example.org"},
                     "attributes": {"note": f"seen {PHRASE} twice", "opened_by": "Opened by 9"}}},
        {"type": "message.added", "ticket_id": "T-1", "subject": "C1",
         "occurred_at": "2024-05-01T11:00:00Z",
         "payload": {"author": "agent", "author_name": "Resolver 17",
                     "text": f"We looked at {PHRASE}."}},
        {"type": "ticket.created", "ticket_id": "T-2", "subject": "C2",
         "occurred_at": "2024-05-02T10:00:00Z",
         "payload": {"text": f"My code {OTHER} fails.", "assignee": "Resolver 17",
                     "customer": {"name": "Ben Adeyemi"}}},
    ]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    report = tenant.ingest(path, "jsonl")
    assert report.accepted == 3, report.as_dict()


def _raw(tenant: Tenant) -> str:
    with tenant.workspace.db.begin(tenant.id) as conn:
        payloads = conn.execute(select(events.c.payload)).scalars().all()
        copies = conn.execute(select(tickets.c.subject_line, tickets.c.attributes)).all()
    return "\n".join([*payloads, *(f"{a}{b}" for a, b in copies)])


def test_content_is_sealed_at_rest_and_opened_on_read(tenant: Tenant, agent: Tenant,
                                                      tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    stored = _raw(tenant)
    assert PHRASE not in stored and "enc:v1:" in stored
    shown = tenant.tickets.get("T-1")
    assert PHRASE in shown["subject_line"] and PHRASE in shown["attributes"]["note"]
    assert shown["attributes"]["opened_by"].startswith("<PERSON_")
    texts = [e["payload"].get("text", "") for e in shown["events"]]
    assert all(PHRASE in t for t in texts) and "Priya" not in " ".join(texts)
    assert agent.privacy.reveal("T-1")["events"][0]["payload"]["customer"]["name"] == \
        "Olga Kowalczyk"


def test_vault_and_keys_are_named_by_references(tenant: Tenant, tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    token = tenant.privacy.subject_token("C1")
    with tenant.workspace.db.begin(tenant.id) as conn:
        names = conn.execute(select(subject_keys.c.subject)).scalars().all()
        refs = conn.execute(select(vault.c.subject, vault.c.token)).all()
    assert names and refs
    assert not [n for n in names if "<" in n or n == token]
    assert not [r for r in refs if "<" in r.subject or "<" in r.token]


def test_customer_erasure_takes_its_third_parties_and_seals_stay_shut(
        tenant: Tenant, agent: Tenant, tmp_path: Path, scan: Scan) -> None:
    _ingest(tenant, tmp_path)
    before = agent.privacy.reveal("T-2")
    assert before["unavailable"] == 0
    report = tenant.privacy.erase("C1")
    assert report["events_redacted"] == 2
    assert scan([PHRASE, "Olga", "olga@example.org", "Priya Raman"]) == []
    # C2 and the agent shared with C2 are untouched.
    after = agent.privacy.reveal("T-2")["events"][0]["payload"]
    assert after["assignee"] == "Resolver 17" and OTHER in after["text"]
    assert after["customer"]["name"] == "Ben Adeyemi"


def test_agent_is_a_subject_of_its_own(tenant: Tenant, agent: Tenant, tmp_path: Path) -> None:
    _ingest(tenant, tmp_path)
    report = tenant.privacy.erase("Resolver 17", kind="agent")
    assert report["vault_entries_deleted"] >= 1 and report["events_redacted"] == 0
    payload = agent.privacy.reveal("T-2")["events"][0]["payload"]
    assert payload["assignee"].startswith("<PERSON_")  # no longer linkable to anyone
    assert payload["customer"]["name"] == "Ben Adeyemi"
    with pytest.raises(NotFound):
        tenant.privacy.erase("Resolver 17", kind="agent")
    employee = tenant.privacy.erase("Opened by 9", kind="employee")
    assert employee["vault_entries_deleted"] == 1


def _data_files(url: str) -> list[Path] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            folder = Path(conn.execute(text("SHOW data_directory")).scalar_one())
            oid = conn.execute(text("SELECT oid FROM pg_database "
                                    "WHERE datname = current_database()")).scalar_one()
    finally:
        engine.dispose()
    base = folder / "base" / str(oid)
    try:
        return [p for p in [*base.iterdir(), *(folder / "pg_wal").iterdir()] if p.is_file()]
    except OSError:
        return None


def test_postgres_data_files_hold_no_readable_content(tenant: Tenant, tmp_path: Path) -> None:
    if not tenant.workspace.db.is_postgres:
        pytest.skip("PostgreSQL only: SQLite's files are scanned by the other tests")
    _ingest(tenant, tmp_path)
    tenant.privacy.erase("C1")
    files = _data_files(admin_url(tenant.workspace))
    if files is None:
        pytest.skip("the server's data directory is not readable from this process")
    leaked = [p.name for p in files if PHRASE.encode() in p.read_bytes()]
    assert leaked == []
