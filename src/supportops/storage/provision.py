"""PostgreSQL set-up by ``supportops init``: the application role, the schema, the grants.

Given an admin URL (a superuser, or an owner with CREATEROLE), ``provision`` creates the
application role when it is missing (LOGIN, NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE), runs the
migrations as the admin, grants the role what it needs and returns the URL the application
logs in with: the admin URL with the role's name and no password (the password, where the
server wants one, comes from libpq: ``PGPASSWORD`` or ``~/.pgpass``). Operators who create the
role themselves run ``postgres_roles.sql`` first; ``provision`` then only migrates and grants.

Roles are cluster-wide while databases are not, so several databases (and several ``init``
runs at once) share one role: creation is idempotent and tolerates a concurrent creator.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Row, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from supportops.errors import ConfigError
from supportops.storage.database import (
    MIGRATING,
    VERSION_TABLE,
    LegacyUpgrade,
    alembic_config,
    describe_url,
    upgrade_schema,
)

_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ROLE_SQL = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOINHERIT"
#: Roles, membership and ``ALTER ROLE`` live in shared catalogues: concurrent changes to the
#: same role fail with these SQLSTATEs, and the loser retries (or finds the work done).
_RACES = {"23505", "42710", "XX000", "40001", "40P01"}


def check_role_name(role: str) -> str:
    if not _ROLE_RE.match(role or ""):
        raise ConfigError(
            "Setting 'SUPPORTOPS_DATABASE_APP_ROLE' must be a plain role name (a-z, 0-9, '_'). "
            f"Got {role!r}."
        )
    return role


def app_url(admin_url: str, role: str) -> str:
    """The application's URL: the admin's server, database and options; the role's name; no
    password."""
    url = make_url(admin_url)._replace(username=role, password=None)  # ``set`` keeps a None
    return url.render_as_string(hide_password=False)


def same_database(a: str, b: str) -> bool:
    x, y = make_url(a), make_url(b)
    return (x.host, x.port, x.database) == (y.host, y.port, y.database)


def same_login(a: str, b: str) -> bool:
    return make_url(a).username == make_url(b).username


def login_role(url: str) -> str:
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT current_user")).scalar_one())
    finally:
        engine.dispose()


def provision(admin_url: str, role: str,
              audit_sealer: Callable[[str], Any] | None = None,
              legacy: LegacyUpgrade | None = None) -> str:
    """Create the role (if missing), migrate, grant; returns the application's URL."""
    check_role_name(role)
    engine = create_engine(admin_url, hide_parameters=True, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            _retry(lambda: ensure_role(conn, role))
        with MIGRATING, engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('supportops.migrate'))"))
            upgrade_schema(conn, audit_sealer, legacy)
            grant(conn, role)
    finally:
        engine.dispose()
    return app_url(admin_url, role)


def ensure_role(conn: Connection, role: str) -> None:
    """The role exists, may log in and holds none of the powers that escape row-level
    security."""
    row = _role(conn, role)
    if row is None:
        _create_role(conn, role)
        row = _role(conn, role)
    if row is None:
        raise ConfigError(f"Role {role!r} could not be created; see the server's log.")
    if row.powerful:
        raise ConfigError(
            f"Role {role!r} exists but is (or may become) a superuser, BYPASSRLS or CREATEROLE "
            "role: row-level security would not bind it. Strip those powers "
            "(storage/postgres_roles.sql) or choose another SUPPORTOPS_DATABASE_APP_ROLE."
        )
    if not row.rolcanlogin:
        conn.execute(text(f"ALTER ROLE {role} LOGIN"))


def _role(conn: Connection, role: str) -> Row[Any] | None:
    return conn.execute(
        text(
            "SELECT r.rolcanlogin, EXISTS (SELECT 1 FROM pg_roles s "
            "WHERE (s.rolsuper OR s.rolbypassrls OR s.rolcreaterole) "
            "AND pg_has_role(r.oid, s.oid, 'MEMBER')) AS powerful "
            "FROM pg_roles r WHERE r.rolname = :r"
        ),
        {"r": role},
    ).first()


def _create_role(conn: Connection, role: str) -> None:
    try:
        conn.execute(text(f"CREATE ROLE {role} {_ROLE_SQL}"))
    except DBAPIError as err:
        if _sqlstate(err) == "42501":
            raise ConfigError(
                f"Role {role!r} does not exist and the admin URL may not create roles. Run "
                "storage/postgres_roles.sql as a superuser first, or give 'supportops init' a "
                "superuser URL."
            ) from None
        if _sqlstate(err) not in _RACES:
            raise
        # another init created it at the same moment: fine


def grant(conn: Connection, role: str) -> None:
    """Data access on every table, and nothing more (no TRUNCATE, no DDL, no ownership);
    the migrations' bookkeeping is read-only to the application."""
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    conn.execute(text(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE ON {VERSION_TABLE} FROM {role}"))


def schema_is_current(url: str) -> bool:
    """Whether the database is at the head revision (an application login cannot migrate;
    a database of a release with the branched history, several rows, is not)."""
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            current = context.get_current_heads()
            head = ScriptDirectory.from_config(alembic_config(conn)).get_current_head()
    finally:
        engine.dispose()
    return current == (head,)


def require_current_schema(url: str) -> None:
    if not schema_is_current(url):
        raise ConfigError(
            f"The schema of {describe_url(url)!r} needs an upgrade that the application role "
            "may not run: run 'supportops init' with an admin (superuser) URL once."
        )


def _sqlstate(err: DBAPIError) -> str | None:
    return getattr(err.orig, "sqlstate", None)


def _retry(step: Callable[[], None], attempts: int = 5) -> None:
    """Run ``step``, again after a short wait when a concurrent init raced it."""
    for attempt in range(attempts):
        try:
            step()
            return
        except DBAPIError as err:
            if _sqlstate(err) not in _RACES or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
