"""Invariant 4 (opt-out honoured by the snapshot query) and retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportops import PermissionDenied, Tenant, ValidationFailed, Workspace

from .conftest import PiiData, Scan


def test_opt_out_and_back_in_as_of_log_position(tenant: Tenant, ingested: PiiData) -> None:
    a, b = (c.customer_id for c in ingested.customers[:2])
    token_a = tenant.privacy.subject_token(a)
    out = tenant.privacy.opt_out(a, reason="asked by phone")
    tenant.privacy.opt_out(b)
    back = tenant.privacy.opt_in(a)
    assert out["subject"] == token_a
    assert tenant.privacy.opted_out() == {tenant.privacy.subject_token(b)}
    assert token_a in tenant.privacy.opted_out(as_of=int(str(out["seq"])))
    assert token_a not in tenant.privacy.opted_out(as_of=int(str(back["seq"])))
    assert tenant.privacy.opted_out(as_of=datetime.now(UTC) - timedelta(days=1)) == set()
    actions = [e.action for e in tenant.audit.list(action="privacy.opted_*")]
    assert actions == ["privacy.opted_out", "privacy.opted_out", "privacy.opted_in"]


def test_opt_out_survives_erasure(tenant: Tenant, ingested: PiiData, scan: Scan) -> None:
    subject = ingested.customers[0].customer_id
    tenant.privacy.opt_out(subject)
    tenant.privacy.erase(subject)
    # by its keyed reference: the token went with the key
    assert tenant.privacy.subject_ref(subject) in tenant.privacy.opted_out()
    assert tenant.privacy.subject_token(subject) not in tenant.privacy.opted_out()
    assert scan([subject]) == []


def test_analyst_may_not_opt_out(workspace: Workspace, tenant: Tenant) -> None:
    tenant.principals.create("bob", "analyst", "person")
    with pytest.raises(PermissionDenied):
        workspace.tenant("acme", principal="bob").privacy.opt_out("CUST-1")


def test_retention_redacts_old_bodies_once(tenant: Tenant, ingested: PiiData) -> None:
    tenant.privacy.set_policy(closed_ticket_pii_days=365)
    first = tenant.privacy.enforce_retention()
    assert first["tickets_stripped"] == 12 and first["events_stripped"] == 24
    assert first["subjects_shredded"] == 6
    ticket = tenant.tickets.get(ingested.customers[0].tickets[0])
    created = ticket["events"][0]["payload"]
    assert created == {"redacted": "retention"} and ticket["status"] == "resolved"
    assert tenant.audit.verify().ok  # each redaction is recorded by the retention entry
    second = tenant.privacy.enforce_retention()
    assert second["events_stripped"] == second["tickets_stripped"] == 0
    assert second["subjects_shredded"] == 0
    assert [e.action for e in tenant.audit.list(action="privacy.retention")] == [
        "privacy.retention", "privacy.retention"]


def test_retention_of_message_bodies(tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    old, new = "2020-01-01T00:00:00Z", datetime.now(UTC).isoformat()
    rows = [("ticket.created", old, {"text": "help"}),
            ("message.added", old, {"author": "customer", "text": "old body"}),
            ("message.added", new, {"author": "customer", "text": "new body"})]
    path.write_text("".join(json.dumps({"type": kind, "ticket_id": "T1", "subject": "C1",
                                        "occurred_at": at, "payload": payload}) + "\n"
                            for kind, at, payload in rows))
    assert tenant.ingest(path, "jsonl").accepted == 3
    tenant.privacy.set_policy(message_body_days=30)
    assert tenant.privacy.enforce_retention()["messages_redacted"] == 1
    texts = [e.payload.get("text") for e in tenant.events.tail(10, "message.added")]
    assert texts == [None, "new body"]  # the old body became the canonical tombstone
    assert tenant.privacy.enforce_retention()["messages_redacted"] == 0


def test_policy_is_validated(tenant: Tenant) -> None:
    with pytest.raises(ValidationFailed, match="retrain"):
        tenant.privacy.set_policy(retrain="sometimes")
    with pytest.raises(ValidationFailed, match=">= 0"):
        tenant.privacy.set_policy(message_body_days=-1)
    assert tenant.privacy.set_policy(retrain="manual").retrain == "manual"
