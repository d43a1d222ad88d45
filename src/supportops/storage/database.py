"""Engines, migrations and tenant-scoped transactions for both back-ends.

SQLite is tuned for the embedded default (WAL, ``secure_delete`` so that deleted data does not
linger in free pages). On PostgreSQL the application logs in as its own role (created by
``supportops init``, see ``provision.py``): never a superuser, never a role that bypasses
row-level security, so nothing in its session can regain those powers. Every tenant
transaction sets ``supportops.tenant`` with ``SET LOCAL`` semantics (``set_config(..., true)``);
workspace-level transactions set ``supportops.scope`` to ``workspace`` instead, which lets them
read the tenants directory and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text

from supportops.errors import ConfigError, PermissionDenied
from supportops.storage.branched import single_revision

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "supportops_alembic_version"
#: Alembic's ``context`` is one module-level object: one migration at a time per process.
MIGRATING = threading.Lock()

#: True when the login role is, or may become, a role that row-level security does not bind:
#: a superuser, a BYPASSRLS or CREATEROLE role (or a member of one), or the owner of a table.
_POWERFUL_LOGIN = text(
    """
    SELECT current_user AS login,
           EXISTS (SELECT 1 FROM pg_roles s
                   WHERE (s.rolsuper OR s.rolbypassrls OR s.rolcreaterole)
                     AND pg_has_role(current_user, s.oid, 'MEMBER'))
        OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
                     AND pg_has_role(current_user, c.relowner, 'MEMBER')) AS powerful
    """
)


def alembic_config(connection: Connection,
                   audit_sealer: Callable[[str], Any] | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = VERSION_TABLE
    cfg.attributes["audit_sealer"] = audit_sealer
    return cfg


#: Rewrites the data of a workspace written by a release before the hash-chained log (keys,
#: vault and content to their current form) while the log can still change: run after
#: ``0010_subjects``, just before ``0005_integrity`` chains what it left.
LegacyUpgrade = Callable[[Connection], Any]
_CHAIN = "0005_integrity"
_BEFORE_CHAIN = "0010_subjects"


def upgrade_schema(conn: Connection, audit_sealer: Callable[[str], Any] | None = None,
                   legacy: LegacyUpgrade | None = None) -> None:
    """Every migration up to the head; a database of a release with the branched history is
    first stamped at its place on the line, and one from before the chained log has its data
    brought forward by ``legacy`` (see :data:`LegacyUpgrade`)."""
    cfg = alembic_config(conn, audit_sealer)
    script = ScriptDirectory.from_config(cfg)
    current = linearise(conn, script)
    if legacy is not None and current is not None and not _chained(script, current):
        command.upgrade(cfg, _BEFORE_CHAIN)
        legacy(conn)
    command.upgrade(cfg, "head")


def linearise(conn: Connection, script: ScriptDirectory) -> str | None:
    """The database's revision on the single line (``None``: no schema yet). One left by a
    release with the branched history (a version row per branch head) is stamped at the
    revision that has run the same migrations."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    if len(rows) < 2:
        return rows[0] if rows else None
    line = [r.revision for r in reversed(list(script.walk_revisions()))]
    current = single_revision(rows, line)
    conn.execute(text(f"DELETE FROM {VERSION_TABLE}"))
    conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": current})
    return current


def _chained(script: ScriptDirectory, current: str) -> bool:
    """Whether the revision ``current`` stands at has run ``0005_integrity``."""
    return any(r.revision == _CHAIN for r in script.iterate_revisions(current, "base"))


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


#: The execution option under which every connection of a database carries its wiring.
WIRING_OPTION = "supportops_wiring"


def wiring_of(conn: Connection) -> object | None:
    """The wiring of the database ``conn`` belongs to (see :class:`Database`)."""
    return conn.get_execution_options().get(WIRING_OPTION)


class Database:
    """One database (SQLite file or PostgreSQL), used through tenant-scoped transactions.

    ``wiring`` is what the rooms above storage provide to code that holds this database or one
    of its connections (the workspace, the composition root, passes its composition: cipher,
    event catalogue, projectors, erasure hooks). Storage never looks inside it; it carries it
    on the handle and, as an engine execution option, on every connection, so that code given
    only a connection still receives it from whoever built the database."""

    def __init__(self, url: str, *, wiring: object | None = None) -> None:
        self.url = url
        self.is_postgres = url.startswith("postgresql")
        self.wiring = wiring
        self.engine = self._make_engine()

    @classmethod
    def sqlite(cls, path: Path) -> Database:
        return cls(f"sqlite:///{path}")

    def _make_engine(self) -> Engine:
        options = {WIRING_OPTION: self.wiring} if self.wiring is not None else {}
        if self.is_postgres:
            return create_engine(self.url, pool_pre_ping=True, hide_parameters=True,
                                 execution_options=options)
        engine = create_engine(self.url, connect_args={"timeout": 30}, hide_parameters=True,
                               execution_options=options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA secure_delete=ON")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine

    # -- the boundary -------------------------------------------------------------------------

    def check_boundary(self) -> None:
        """Refuse to work through a PostgreSQL login that row-level security does not bind."""
        if not self.is_postgres:
            return
        with self.engine.connect() as conn:
            row = conn.execute(_POWERFUL_LOGIN).one()
        if row.powerful:
            raise ConfigError(
                f"The database URL {describe_url(self.url)!r} logs in as {row.login!r}, which "
                "row-level security does not bind (superuser, BYPASSRLS, CREATEROLE, a table "
                "owner or a member of one). Run 'supportops init' with it once to create the "
                "application role; later commands then connect as that role."
            )

    # -- schema -------------------------------------------------------------------------------

    def migrate(self, audit_sealer: Callable[[str], Any] | None = None,
                legacy: LegacyUpgrade | None = None) -> None:
        """Bring the schema to the newest revision (the head). On PostgreSQL this
        needs the admin URL: ``provision.provision`` calls it there. ``audit_sealer(tenant_id)``
        gives the keys with which an upgrade re-keys audit chains (``0005_integrity``); they
        are never stored. ``legacy`` brings an older release's data forward."""
        with MIGRATING, self.engine.begin() as conn:
            upgrade_schema(conn, audit_sealer, legacy)

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def begin(self, tenant_id: str | None) -> Iterator[Connection]:
        """A transaction scoped to one tenant (``None``: workspace-level tables only)."""
        with self.engine.begin() as conn:
            self.enter(conn, tenant_id)
            yield conn

    def enter(self, conn: Connection, tenant_id: str | None) -> None:
        """Scope the rest of ``conn``'s transaction to ``tenant_id`` (``None``: workspace);
        for the owner's work that spans tenants in one transaction (key rotation)."""
        if self.is_postgres:
            conn.execute(
                text("SELECT set_config('supportops.tenant', :t, true), "
                     "set_config('supportops.scope', :s, true)"),
                {"t": tenant_id or "", "s": "tenant" if tenant_id else "workspace"},
            )

    def checkpoint(self) -> None:
        """Fold the SQLite WAL back into the main file and truncate it (no stale bytes left)."""
        if self.is_postgres:
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()

    def scoped(self, tenant_id: str) -> Database:
        """This database as one tenant's handle sees it: its transactions only."""
        return TenantDatabase(self, tenant_id)


class TenantDatabase(Database):
    """A database bound to one tenant: a transaction for another tenant, or a workspace-level
    one, is refused, and the schema and the engine's life belong to the workspace."""

    def __init__(self, db: Database, tenant_id: str) -> None:  # shares the workspace's engine
        self.url = db.url
        self.is_postgres = db.is_postgres
        self.wiring = db.wiring
        self.engine = db.engine
        self.tenant_id = tenant_id

    @contextmanager
    def begin(self, tenant_id: str | None) -> Iterator[Connection]:
        if tenant_id != self.tenant_id:
            raise PermissionDenied(
                f"A handle of tenant {self.tenant_id!r} may not open a transaction for "
                f"{tenant_id or 'the workspace'!r}; open that tenant from the workspace."
            )
        with super().begin(tenant_id) as conn:
            yield conn

    def enter(self, conn: Connection, tenant_id: str | None) -> None:
        if tenant_id != self.tenant_id:
            raise PermissionDenied(f"A handle of tenant {self.tenant_id!r} may not act for "
                                   f"{tenant_id or 'the workspace'!r}.")
        super().enter(conn, tenant_id)

    def migrate(self, audit_sealer: Callable[[str], Any] | None = None,
                legacy: LegacyUpgrade | None = None) -> None:
        raise PermissionDenied("A tenant handle may not change the schema; run 'supportops init'.")

    def scoped(self, tenant_id: str) -> Database:
        if tenant_id != self.tenant_id:
            raise PermissionDenied(f"A handle of tenant {self.tenant_id!r} may not act for "
                                   f"{tenant_id!r}.")
        return self

    def dispose(self) -> None:
        """The workspace owns the engine."""
