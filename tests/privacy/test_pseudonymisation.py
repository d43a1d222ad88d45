"""Invariant 2: no plaintext personal data at rest outside the vault; reveal is audited."""

from __future__ import annotations

import pytest

from supportops import PermissionDenied, Tenant, Workspace
from supportops.privacy.vault import TOKEN_RE

from .conftest import PiiData, Scan


def test_byte_scan_finds_no_original_value(ingested: PiiData, scan: Scan,
                                           workspace: Workspace) -> None:
    values = [v for c in ingested.customers for v in c.values()]
    assert scan(values) == []
    # the scan does see what it looks for: ticket ids are stored in clear; content is sealed
    first = ingested.customers[0]
    assert scan([first.tickets[0], first.markers[0]]) == [first.tickets[0]]
    files = {p.name for p in workspace.path.rglob("*") if p.is_file()}
    assert "master.key" in files


def test_tokens_are_typed_and_shared_across_tickets(tenant: Tenant, ingested: PiiData) -> None:
    first, second = ingested.customers[0].tickets
    a, b = tenant.tickets.get(first), tenant.tickets.get(second)
    assert a["subject"] == b["subject"] and TOKEN_RE.fullmatch(a["subject"])
    created = a["events"][0]["payload"]
    assert created["customer"]["email"].startswith("<EMAIL_ADDRESS_")
    assert created["customer"]["email"] == b["events"][0]["payload"]["customer"]["email"]
    kinds = {m.group(1) for m in TOKEN_RE.finditer(created["text"])}
    assert {"PERSON", "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE"} <= kinds


def test_agent_reveals_originals_and_is_audited(tenant: Tenant, agent: Tenant,
                                                ingested: PiiData) -> None:
    customer = ingested.customers[1]
    data = agent.privacy.reveal(customer.tickets[0])
    created = data["events"][0]
    assert created["subject"] == customer.customer_id
    assert customer.email in created["payload"]["text"]
    assert customer.card in created["payload"]["text"]
    assert created["payload"]["customer"]["name"] == customer.name
    assert data["unavailable"] == 0
    entries = tenant.audit.list(action="pii.reveal")
    assert len(entries) == 1 and entries[0].actor == agent.ctx.principal_id
    assert entries[0].details["ticket_id"] == customer.tickets[0]


def test_analyst_may_not_reveal_and_the_attempt_is_audited(
    workspace: Workspace, tenant: Tenant, ingested: PiiData
) -> None:
    tenant.principals.create("bob", "analyst", "person")
    bob = workspace.tenant("acme", principal="bob")
    with pytest.raises(PermissionDenied, match="analyst"):
        bob.privacy.reveal(ingested.customers[0].tickets[0])
    assert [e.action for e in tenant.audit.list(action="pii.reveal*")] == ["pii.reveal.denied"]


def test_reingesting_is_idempotent_and_adds_no_vault_rows(tenant: Tenant,
                                                          ingested: PiiData) -> None:
    again = tenant.ingest(ingested.path, "csv")
    assert again.accepted == 0 and again.duplicates > 0
