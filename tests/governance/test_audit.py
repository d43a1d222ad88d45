"""Invariant 6: the audit chain detects any edited, deleted or reordered entry."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from supportops import Tenant, Workspace
from supportops.cli.main import app
from supportops.workspace import DB_FILE
from tests.helpers import admin_url


@pytest.fixture
def chain(tenant: Tenant) -> Tenant:
    for i in range(5):
        tenant.audit.record("test.action", subject=f"s{i}", details={"n": i})
    assert tenant.audit.verify().ok
    return tenant


@contextmanager
def tamper(ws: Workspace) -> Iterator[object]:
    """A raw connection past the append-only triggers, as an attacker with file access."""
    if ws.db.is_postgres:
        engine = create_engine(admin_url(ws))
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield lambda sql: conn.execute(text(sql))
        engine.dispose()
        return
    conn = sqlite3.connect(ws.path / DB_FILE)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    yield conn.execute
    conn.commit()
    conn.close()


def test_edited_entry_is_named(workspace: Workspace, chain: Tenant) -> None:
    with tamper(workspace) as run:
        run("UPDATE audit_log SET details = '{\"n\": 99}' WHERE seq = 3")  # type: ignore[operator]
    result = chain.audit.verify()
    assert not result.ok and result.bad_seq == 3 and "edited" in (result.problem or "")


def test_deleted_entry_is_named(workspace: Workspace, chain: Tenant) -> None:
    with tamper(workspace) as run:
        run("DELETE FROM audit_log WHERE seq = 2")  # type: ignore[operator]
    result = chain.audit.verify()
    assert not result.ok and result.bad_seq == 2 and "missing" in (result.problem or "")


def test_deleted_last_entry_is_caught_by_the_head(workspace: Workspace, chain: Tenant) -> None:
    with tamper(workspace) as run:
        run("DELETE FROM audit_log WHERE seq = 5")  # type: ignore[operator]
    result = chain.audit.verify()
    assert not result.ok and result.bad_seq == 5


def test_reordered_entries_are_named(workspace: Workspace, chain: Tenant) -> None:
    with tamper(workspace) as run:
        for sql in ("UPDATE audit_log SET seq = -1 WHERE seq = 2",
                    "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                    "UPDATE audit_log SET seq = 3 WHERE seq = -1"):
            run(sql)  # type: ignore[operator]
    result = chain.audit.verify()
    assert not result.ok and result.bad_seq == 2


def test_database_refuses_updates_and_deletes(workspace: Workspace, chain: Tenant) -> None:
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), \
                workspace.db.begin("acme") as conn:
            conn.execute(text(sql))


def test_cli_verify_exits_non_zero_naming_the_entry(workspace: Workspace, chain: Tenant) -> None:
    env = {"SUPPORTOPS_WORKSPACE": str(workspace.path)}
    if workspace.db.is_postgres:
        env["SUPPORTOPS_DATABASE_URL"] = workspace.db.url
    ok = CliRunner().invoke(app, ["audit", "verify", "--tenant", "acme"], env=env)
    assert ok.exit_code == 0 and "5 entries verified" in ok.output
    with tamper(workspace) as run:
        run("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4")  # type: ignore[operator]
    bad = CliRunner().invoke(app, ["audit", "verify", "--tenant", "acme", "--json"], env=env)
    assert bad.exit_code == 1 and '"bad_seq":4' in bad.output


def test_list_filters_by_actor_action_subject_and_time(workspace: Workspace,
                                                       tenant: Tenant) -> None:
    tenant.principals.create("carol", "privacy_officer", "person")
    carol = workspace.tenant("acme", principal="carol")
    carol.audit.record("export.dataset", subject="snap-1")
    tenant.audit.record("export.dataset", subject="snap-2")
    assert [e.subject for e in tenant.audit.list(actor="carol")] == ["snap-1"]
    assert [e.action for e in tenant.audit.list(subject="carol")] == ["principal.create"]
    assert len(tenant.audit.list(action="export.*")) == 2
    assert tenant.audit.list(since=datetime.now(UTC) + timedelta(hours=1)) == []
    # a subject is also matched as a customer's token: the first token derived in a tenant
    # creates its key (audited), after the principal and the two exports
    until = tenant.audit.list(until=datetime.now(UTC) + timedelta(hours=1))
    assert [e.action for e in until] == ["principal.create", "export.dataset",
                                         "export.dataset", "key.create"]


def test_reading_the_audit_log_is_privileged(workspace: Workspace, tenant: Tenant) -> None:
    from supportops import PermissionDenied

    tenant.principals.create("dave", "analyst", "person")
    with pytest.raises(PermissionDenied):
        workspace.tenant("acme", principal="dave").audit.verify()


def test_principal_changes_are_audited(workspace: Workspace, tenant: Tenant) -> None:
    from supportops.governance import roles

    tenant.principals.create("erin", "analyst", "person")
    assert roles.set_principal_role(workspace.db, tenant.ctx, "erin", "agent") == "analyst"
    assert workspace.tenant("acme", principal="erin").ctx.role == "agent"
    roles.disable_principal(workspace.db, tenant.ctx, "erin")
    actions = [(e.action, e.subject) for e in tenant.audit.list(action="principal.*")]
    assert actions == [("principal.create", "erin"), ("principal.role_change", "erin"),
                       ("principal.disable", "erin")]
    assert tenant.audit.verify().ok
