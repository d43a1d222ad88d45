"""Tenants never see each other: through the Python API, the CLI, and (PostgreSQL) RLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from supportops import NotFound, PermissionDenied, ValidationFailed, Workspace
from supportops.governance.context import Context
from supportops.storage.schema import events, tickets
from tests.helpers import event, write_jsonl


@pytest.fixture
def two_tenants(workspace: Workspace, tmp_path: Path) -> Workspace:
    for tid in ("alpha", "beta"):
        workspace.create_tenant(tid)
        path = write_jsonl(tmp_path / f"{tid}.jsonl", [
            event("ticket.created", f"{tid}-{i}", "2024-01-01T00:00:00Z", text=f"{tid} secret")
            for i in range(3)
        ])
        workspace.tenant(tid).ingest(path, format="jsonl")
    return workspace


def test_api_key_of_one_tenant_cannot_open_another(two_tenants: Workspace) -> None:
    _, key = two_tenants.tenant("alpha").principals.create("bot", "agent")
    assert key is not None
    assert two_tenants.tenant("alpha", api_key=key).tickets.count() == 3
    with pytest.raises(PermissionDenied, match="another tenant"):
        two_tenants.tenant("beta", api_key=key)


def test_named_principal_exists_only_in_its_tenant(two_tenants: Workspace) -> None:
    two_tenants.tenant("alpha").principals.create("ann", "analyst", kind="person")
    assert two_tenants.tenant("alpha", principal="ann").ctx.role == "analyst"
    with pytest.raises(NotFound):
        two_tenants.tenant("beta", principal="ann")


def test_reads_and_writes_stay_in_the_tenant(two_tenants: Workspace, tmp_path: Path) -> None:
    alpha = two_tenants.tenant("alpha")
    assert {r["ticket_id"] for r in alpha.tickets.list(limit=100)} == {f"alpha-{i}" for i in range(3)}
    with pytest.raises(NotFound):
        alpha.tickets.get("beta-0")
    # Ticket ids may collide across tenants without touching each other.
    path = write_jsonl(tmp_path / "collide.jsonl", [
        event("ticket.status_changed", "beta-0", "2024-01-02T00:00:00Z", status="hijacked")])
    alpha.ingest(path, format="jsonl")
    assert two_tenants.tenant("beta").tickets.get("beta-0")["status"] == "new"


def test_roles_are_enforced(two_tenants: Workspace) -> None:
    two_tenants.tenant("alpha").principals.create("ann", "analyst", kind="person")
    analyst = two_tenants.tenant("alpha", principal="ann")
    with pytest.raises(PermissionDenied, match="may not create principals"):
        analyst.principals.create("x", "admin")
    with pytest.raises(PermissionDenied, match="ingest"):
        analyst.ingest("nowhere.jsonl")
    with pytest.raises(ValidationFailed):
        Context(tenant_id="", principal_id="p", role="admin")


def test_unknown_api_key_is_refused(two_tenants: Workspace) -> None:
    with pytest.raises(PermissionDenied):
        two_tenants.tenant("alpha", api_key="so_alpha_forged")
    with pytest.raises(PermissionDenied):
        two_tenants.tenant("alpha", api_key="garbage")


def test_row_level_security_hides_other_tenants(two_tenants: Workspace, backend: str) -> None:
    """On PostgreSQL even a query that forgets its WHERE sees one tenant only."""
    if backend != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    db = two_tenants.db
    with db.begin("alpha") as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 3
        assert conn.execute(select(func.count()).select_from(tickets)).scalar_one() == 3
        assert conn.execute(text("SELECT current_user")).scalar_one() == "supportops_app"
    with db.begin(None) as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 0
    with pytest.raises(Exception, match="row-level security"), db.begin("alpha") as conn:
        conn.execute(events.insert().values(
            tenant_id="beta", seq=99, id="x", type="ticket.created", occurred_at=func.now(),
            recorded_at=func.now(), payload="{}", idempotency_key="x", hash="x"))
