"""Invariant 3: erasure reaches events, vault, projections, derived rows and lineage."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Connection

from supportops import NotFound, Tenant
from supportops.governance import lineage
from supportops.governance.context import Context
from supportops.privacy import erasure

from .conftest import PiiData, Scan


@pytest.fixture
def purge_calls() -> list[tuple[str, int]]:
    """What a derived-data hook a higher room declares was called with."""
    return []


def _erase_with_hook(tenant: Tenant, subject: str,
                     calls: list[tuple[str, int]]) -> dict[str, object]:
    """Erase through the workspace's hooks plus one more, handed to the erasure explicitly."""

    def hook(conn: Connection, ctx: Context, token: str, event_ids: Sequence[str]) -> int:
        calls.append((token, len(event_ids)))
        return len(event_ids)

    hooks = {**erasure.hooks_of(tenant.db), "test-index": hook}
    return erasure.erase(tenant.db, tenant.ctx, tenant.privacy.keyring(), subject,
                         hooks=hooks).as_dict()


def _lineage(tenant: Tenant, holder: str, other: str) -> None:
    db, ctx = tenant.workspace.db, tenant.ctx
    with db.begin(ctx.tenant_id) as conn:
        lineage.record_snapshot(conn, ctx, "snap-1", "sha256:aa", 10, {holder, other})
        lineage.record_snapshot(conn, ctx, "snap-2", "sha256:bb", 12, {other})
        lineage.record_model(conn, ctx, "triage", "1", "snap-1")
        lineage.record_model(conn, ctx, "triage", "2", "snap-2")
        lineage.record_deployment(conn, ctx, "triage", "1", "champion")


def test_erase_forgets_everywhere_and_reports(
    tenant: Tenant, agent: Tenant, ingested: PiiData, scan: Scan,
    purge_calls: list[tuple[str, int]],
) -> None:
    gone, kept = ingested.customers[0], ingested.customers[1]
    token = tenant.privacy.subject_token(gone.customer_id)
    _lineage(tenant, token, tenant.privacy.subject_token(kept.customer_id))
    assert scan(gone.markers) == []  # content at rest is sealed...
    assert gone.markers[0] in tenant.tickets.get(gone.tickets[0])["events"][0]["payload"]["text"]

    report = _erase_with_hook(tenant, gone.customer_id, purge_calls)

    assert set(report) == {"subject", "events_redacted", "vault_entries_deleted", "snapshots",
                           "models", "pending", "completed_at"}
    assert report["subject"] == tenant.privacy.subject_ref(token)  # a keyed reference
    assert report["events_redacted"] == 2 * len(gone.tickets)  # created + resolved
    assert report["vault_entries_deleted"] >= 6
    assert report["snapshots"] == ["snap-1"] and report["models"] == ["triage@1"]
    assert {(p["action"], p["target"]) for p in report["pending"]
            if p["action"] != "reclaim_space"} == {
        ("rebuild_snapshot", "snap-1"), ("retrain_model", "triage@1")}
    assert purge_calls == [(token, 2 * len(gone.tickets))]
    assert scan(gone.values() + gone.markers) == []
    assert kept.markers[0] in tenant.tickets.get(kept.tickets[0])["events"][0]["payload"]["text"]
    assert tenant.privacy.reports(gone.customer_id) == [report]

    for ticket in gone.tickets:
        with pytest.raises(NotFound):
            tenant.tickets.get(ticket)
    revealed = agent.privacy.reveal(kept.tickets[0])
    assert kept.email in revealed["events"][0]["payload"]["text"]
    model = tenant.lineage.model("triage", "1")
    assert model["contains_erased_data"] and model["snapshot"]["state"] == "rebuild"
    assert not tenant.lineage.model("triage", "2")["contains_erased_data"]
    assert tenant.audit.verify().ok


def test_log_survives_erasure_as_tombstones(tenant: Tenant, ingested: PiiData) -> None:
    before = tenant.events.count()
    n_tickets = tenant.tickets.count()
    tenant.privacy.erase(ingested.customers[2].customer_id)
    assert tenant.events.count() == before
    tombstones = [e for e in tenant.events.tail(100) if e.redacted_at is not None]
    assert len(tombstones) == 4
    assert all(e.payload == {"redacted": "erasure"} and e.ticket_id is None for e in tombstones)
    assert tenant.events.rebuild() == n_tickets - 2  # replay skips the tombstones


def test_erase_twice_is_harmless_and_unknown_subject_is_named(tenant: Tenant,
                                                            ingested: PiiData) -> None:
    subject = ingested.customers[3].customer_id
    tenant.privacy.erase(subject)
    again = tenant.privacy.erase(subject)
    assert again["events_redacted"] == 0 and again["vault_entries_deleted"] == 0
    assert len(tenant.privacy.reports(subject)) == 2
    with pytest.raises(NotFound, match="nothing to erase"):
        tenant.privacy.erase("NO-SUCH-CUSTOMER")


def test_only_privacy_officer_or_admin_may_erase(tenant: Tenant, agent: Tenant,
                                                 ingested: PiiData) -> None:
    from supportops import PermissionDenied

    with pytest.raises(PermissionDenied):
        agent.privacy.erase(ingested.customers[0].customer_id)
