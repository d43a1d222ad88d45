"""The database boundary on PostgreSQL: the application logs in as its own role, which cannot
become superuser, and sees one tenant's rows in every table; on both back-ends, a tenant
handle cannot reach the owner's powers."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from supportops import ConfigError, PermissionDenied, Tenant, Workspace
from supportops.analytics.sla import SlaTarget, set_target
from supportops.storage import provision
from tests.conftest import PG_URL, _create_pg_database, _drop_pg_database
from tests.helpers import admin_url, event, write_jsonl

#: Tables of the application that hold no tenant's data (read-only to the application).
WORKSPACE_TABLES = {"supportops_alembic_version"}


@pytest.fixture
def pg_workspace(workspace: Workspace, backend: str) -> Workspace:
    if backend != "postgresql":
        pytest.skip("roles and row-level security are PostgreSQL's")
    return workspace


def _fill(ws: Workspace, tmp_path: Path, tenant_id: str) -> Tenant:
    """A tenant with rows in every room: events, tickets, principals, keys, vault, audit,
    policies, SLA targets."""
    ws.create_tenant(tenant_id)
    handle = ws.tenant(tenant_id)
    path = write_jsonl(tmp_path / f"{tenant_id}.jsonl", [
        event("ticket.created", f"{tenant_id}-{i}", "2024-01-01T00:00:00Z", subject=f"c{i}",
              text=f"{tenant_id} secret", customer={"name": f"Ann {tenant_id}"})
        for i in range(3)
    ])
    handle.ingest(path, format="jsonl")
    handle.principals.create("bot", "agent")
    handle.privacy.set_policy(message_body_days=30)
    handle.privacy.opt_out("c1")
    set_target(handle.db, handle.ctx, SlaTarget("P1", 1.0, 8.0))
    return handle


@pytest.fixture
def two_filled(pg_workspace: Workspace, tmp_path: Path) -> Workspace:
    _fill(pg_workspace, tmp_path, "alpha")
    _fill(pg_workspace, tmp_path, "beta")
    return pg_workspace


def _tables(url: str) -> list[tuple[str, str, set[str]]]:
    """Every table outside the system schemas, with its columns (read as the superuser)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_schema NOT LIKE 'pg_toast%'")).all()
    engine.dispose()
    tables: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), set()).add(column)
    return [(schema, table, columns) for (schema, table), columns in sorted(tables.items())]


def _owner_column(columns: set[str], table: str) -> str | None:
    return "id" if table == "tenants" else ("tenant_id" if "tenant_id" in columns else None)


def test_application_logs_in_as_its_own_role(pg_workspace: Workspace) -> None:
    with pg_workspace.db.begin("acme") as conn:
        row = conn.execute(text(
            "SELECT session_user, current_user, r.rolsuper, r.rolbypassrls, r.rolcreaterole "
            "FROM pg_roles r WHERE r.rolname = session_user")).one()
    assert tuple(row) == ("supportops_app", "supportops_app", False, False, False)
    recorded = json.loads((pg_workspace.path / "config.json").read_text())["database_url"]
    assert make_url(recorded).username == "supportops_app"
    assert make_url(recorded).password is None


@pytest.mark.parametrize("statement", [
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "ALTER ROLE supportops_app SUPERUSER",
    "ALTER ROLE supportops_app BYPASSRLS",
    "CREATE ROLE so_escape SUPERUSER",
    "SET session_replication_role = replica",
    "ALTER TABLE events DISABLE ROW LEVEL SECURITY",
    "DROP POLICY tenant_isolation ON events",
    "ALTER TABLE events DISABLE TRIGGER ALL",
    "TRUNCATE events",
    "UPDATE supportops_alembic_version SET version_num = 'x'",
])
def test_session_cannot_regain_superuser_powers(pg_workspace: Workspace, statement: str) -> None:
    with pytest.raises(DBAPIError, match=r"denied|must be|permission|only superuser|owner"), \
            pg_workspace.db.begin("acme") as conn:
        conn.execute(text(statement))


def test_reset_role_stays_the_application(pg_workspace: Workspace) -> None:
    with pg_workspace.db.engine.connect() as conn:
        conn.execute(text("RESET ROLE"))
        conn.execute(text("RESET SESSION AUTHORIZATION"))
        row = conn.execute(text(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
    assert tuple(row) == ("supportops_app", False)


def test_no_table_shows_another_tenants_row(two_filled: Workspace) -> None:
    """Every table the server holds, read inside alpha's transaction: no row of beta, in any
    of them; the superuser sees beta's rows there, so the check can fail."""
    admin = admin_url(two_filled)
    checked = []
    admin_engine = create_engine(admin)
    for schema, table, columns in _tables(admin):
        name = f'"{schema}"."{table}"'
        owner = _owner_column(columns, table)
        if owner is None:
            assert table in WORKSPACE_TABLES, f"{name} holds no tenant column: who may read it?"
            continue
        with admin_engine.connect() as conn:
            beta_rows = conn.execute(text(f"SELECT count(*) FROM {name} WHERE {owner} = 'beta'"))
        with two_filled.db.begin("alpha") as conn:
            seen = conn.execute(text(f"SELECT count(*) FROM {name} WHERE {owner} <> 'alpha'"))
            assert seen.scalar_one() == 0, f"tenant alpha sees other tenants' rows in {name}"
        checked.append((table, beta_rows.scalar_one()))
    admin_engine.dispose()
    filled = {table for table, n in checked if n}
    assert {"tenants", "events", "tickets", "principals", "tenant_keys", "subject_keys", "vault",
            "audit_log", "privacy_policies", "analytics_sla_targets"} <= filled
    assert len(checked) >= 20


def test_every_tenant_table_forces_row_level_security(two_filled: Workspace) -> None:
    admin = admin_url(two_filled)
    engine = create_engine(admin)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind = 'r'")).all()
    engine.dispose()
    unguarded = [r.relname for r in rows if r.relname not in WORKSPACE_TABLES
                 and not (r.relrowsecurity and r.relforcerowsecurity)]
    assert unguarded == []


def test_tenants_directory_is_row_level_secured(two_filled: Workspace) -> None:
    with two_filled.db.begin("alpha") as conn:
        assert conn.execute(text("SELECT id FROM tenants")).scalars().all() == ["alpha"]
        moved = conn.execute(text("UPDATE tenants SET name = 'x' WHERE id = 'beta'"))
        assert moved.rowcount == 0
    with pytest.raises(DBAPIError, match="row-level security"), \
            two_filled.db.begin("alpha") as conn:
        conn.execute(text("INSERT INTO tenants (id, name, created_at, last_seq) "
                          "VALUES ('gamma', 'g', now(), 0)"))
    with two_filled.db.begin(None) as conn:  # the workspace scope: the directory, no data
        assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
    assert [t.id for t in two_filled.tenants()] == ["alpha", "beta"]


def test_commands_given_the_admin_url_act_as_the_application(pg_workspace: Workspace,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTOPS_DATABASE_URL", admin_url(pg_workspace))
    with Workspace.open(pg_workspace.path) as again, again.db.begin("acme") as conn:
        assert conn.execute(text("SELECT session_user")).scalar_one() == "supportops_app"


def test_admin_url_without_init_is_refused(pg_workspace: Workspace, tmp_path: Path) -> None:
    fresh = tmp_path / "other"
    fresh.mkdir()
    (fresh / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"logs in as 'postgres'.*supportops init"):
        Workspace.open(fresh, database_url=admin_url(pg_workspace))


def test_init_records_no_password(backend: str, tmp_path: Path) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL set-up")
    assert PG_URL
    url, name = _create_pg_database(PG_URL)
    try:
        with_secret = make_url(url).set(password="s3cret-admin-pw")  # trust auth ignores it
        ws = Workspace.init(tmp_path / "ws", with_secret.render_as_string(hide_password=False))
        ws.close()
        config = (tmp_path / "ws" / "config.json").read_text()
        assert "s3cret" not in config and "postgres@" not in config
        assert (tmp_path / "ws" / "config.json").stat().st_mode & 0o077 == 0
        again = Workspace.init(tmp_path / "ws")  # the application's URL: nothing to provision
        assert again.db.url == json.loads(config)["database_url"]
        again.close()
    finally:
        _drop_pg_database(PG_URL, name)


@pytest.fixture
def fresh_role(backend: str) -> Iterator[str]:
    """A role name no one has created yet, dropped (with its databases) afterwards."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL roles")
    assert PG_URL
    role = f"so_role_{uuid.uuid4().hex[:10]}"
    yield role
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
    engine.dispose()


def test_role_creation_is_idempotent_under_concurrent_inits(fresh_role: str) -> None:
    """Four databases provisioned at once share one new cluster-wide role."""
    assert PG_URL
    databases = [_create_pg_database(PG_URL) for _ in range(4)]
    errors: list[BaseException] = []

    def run(url: str) -> None:
        try:
            provision.provision(url, fresh_role)
        except BaseException as err:  # reported by the assertion below
            errors.append(err)

    try:
        threads = [threading.Thread(target=run, args=(url,)) for url, _ in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        provision.provision(databases[0][0], fresh_role)  # and once more: idempotent
        assert errors == []
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
                "FROM pg_roles WHERE rolname = :r"), {"r": fresh_role}).one()
        engine.dispose()
        assert tuple(row) == (True, False, False, False, False)
    finally:
        for _, name in databases:
            _drop_pg_database(PG_URL, name)


def test_a_powerful_existing_role_is_refused(fresh_role: str) -> None:
    assert PG_URL
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE ROLE {fresh_role} LOGIN BYPASSRLS"))
    engine.dispose()
    url, name = _create_pg_database(PG_URL)
    try:
        with pytest.raises(ConfigError, match="BYPASSRLS"):
            provision.provision(url, fresh_role)
    finally:
        _drop_pg_database(PG_URL, name)


# -- tenant handles (both back-ends) --------------------------------------------------------


def test_api_key_handle_cannot_reach_the_owners_powers(workspace: Workspace) -> None:
    workspace.create_tenant("alpha")
    workspace.create_tenant("beta")
    _, key = workspace.tenant("alpha").principals.create("bot", "agent")
    assert key is not None
    handle = workspace.tenant("alpha", api_key=key)
    with pytest.raises(PermissionDenied, match="workspace is the owner's"):
        _ = handle.workspace
    with pytest.raises(PermissionDenied, match="may not open a transaction for 'beta'"), \
            handle.db.begin("beta"):
        pass
    with pytest.raises(PermissionDenied), handle.db.begin(None):
        pass
    with pytest.raises(PermissionDenied):
        handle.db.scoped("beta")
    with pytest.raises(PermissionDenied):
        handle.db.migrate()
    assert handle.tickets.count() == 0
    assert workspace.tenant("alpha").workspace is workspace  # the owner keeps it


@pytest.mark.parametrize("tenant_id", ["acme_eu", "a_b_c", "x_1", "acme"])
def test_api_keys_work_for_ids_with_underscores(workspace: Workspace, tenant_id: str) -> None:
    for tid in ("acme", "acme_eu", "a_b_c", "x_1", "a_b"):
        workspace.create_tenant(tid)
    _, key = workspace.tenant(tenant_id).principals.create("bot", "agent")
    assert key is not None and key.startswith(f"so_{tenant_id}_")
    assert workspace.tenant(tenant_id, api_key=key).ctx.tenant_id == tenant_id
    other = "a_b" if tenant_id != "a_b" else "acme"
    with pytest.raises(PermissionDenied, match="another tenant"):
        workspace.tenant(other, api_key=key)
    forged = key[: -4] + ("0000" if not key.endswith("0000") else "1111")
    with pytest.raises(PermissionDenied, match="unknown"):
        workspace.tenant(tenant_id, api_key=forged)


def test_operator_script_then_owner_init(fresh_role: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's path: a superuser runs postgres_roles.sql; the database's owner, no
    superuser and no CREATEROLE, runs init; the application logs in as the role."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("needs the psql client")
    assert PG_URL
    server = make_url(PG_URL)
    script = Path(provision.__file__).with_name("postgres_roles.sql")
    subprocess.run([psql, "-h", server.host or "127.0.0.1", "-p", str(server.port or 5432),
                    "-U", server.username or "postgres", "-d", server.database or "postgres",
                    "-q", "-v", f"app_role={fresh_role}", "-f", str(script)], check=True)
    owner, database = f"{fresh_role}_owner", f"{fresh_role}_db"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {owner} LOGIN"))
        conn.execute(text(f'CREATE DATABASE "{database}" OWNER {owner}'))
    monkeypatch.setenv("SUPPORTOPS_DATABASE_APP_ROLE", fresh_role)
    owner_url = server.set(username=owner, password=None, database=database)
    try:
        ws = Workspace.init(tmp_path / "ws", owner_url.render_as_string(hide_password=False))
        ws.create_tenant("acme")
        with ws.db.begin("acme") as conn:
            assert conn.execute(text("SELECT session_user")).scalar_one() == fresh_role
            assert conn.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 1
        ws.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f"DROP ROLE IF EXISTS {owner}"))
        admin.dispose()
