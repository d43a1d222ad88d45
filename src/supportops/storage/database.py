"""Engines, migrations and tenant-scoped transactions for both back-ends.

SQLite is tuned for the embedded default (WAL, ``secure_delete`` so that deleted data does not
linger in free pages). On PostgreSQL the application switches to a role that row-level
security applies to, and every tenant transaction sets ``supportops.tenant`` with
``SET LOCAL`` semantics (``set_config(..., true)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text

from supportops.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Database:
    """One database (SQLite file or PostgreSQL), used through tenant-scoped transactions."""

    def __init__(self, url: str, app_role: str | None = "supportops_app") -> None:
        self.url = url
        self.is_postgres = url.startswith("postgresql")
        if app_role is not None and not _ROLE_RE.match(app_role):
            raise ConfigError(
                f"Setting 'SUPPORTOPS_DATABASE_APP_ROLE' must be a plain role name. Got {app_role!r}."
            )
        self.app_role = app_role if self.is_postgres else None
        self.engine = self._make_engine(role=self.app_role)

    @classmethod
    def sqlite(cls, path: Path) -> Database:
        return cls(f"sqlite:///{path}")

    def _make_engine(self, role: str | None) -> Engine:
        if self.is_postgres:
            engine = create_engine(self.url, pool_pre_ping=True, hide_parameters=True)
            if role:
                @event.listens_for(engine, "connect")
                def _set_role(dbapi_conn: Any, _record: Any) -> None:
                    with dbapi_conn.cursor() as cur:
                        cur.execute(f"SET ROLE {role}")
                    dbapi_conn.commit()
            return engine
        engine = create_engine(self.url, connect_args={"timeout": 30}, hide_parameters=True)

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

    # -- schema -------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest revision (every branch head), as the owner role."""
        owner = self._make_engine(role=None)
        try:
            with owner.begin() as conn:
                cfg = Config()
                cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
                cfg.attributes["connection"] = conn
                cfg.attributes["app_role"] = self.app_role
                command.upgrade(cfg, "heads")
        finally:
            owner.dispose()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def begin(self, tenant_id: str | None) -> Iterator[Connection]:
        """A transaction scoped to one tenant (``None``: workspace-level tables only)."""
        with self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(
                    text("SELECT set_config('supportops.tenant', :t, true)"),
                    {"t": tenant_id or ""},
                )
            yield conn

    def checkpoint(self) -> None:
        """Fold the SQLite WAL back into the main file and truncate it (no stale bytes left)."""
        if self.is_postgres:
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()
