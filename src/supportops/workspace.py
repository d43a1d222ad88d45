"""The library's front door: a workspace folder, its database, and tenant handles.

    ws = Workspace.init("./supportops-workspace")     # or Workspace.open(...)
    ws.create_tenant("acme")
    acme = ws.tenant("acme")                          # the workspace owner, as admin
    acme.ingest("tickets.csv", format="csv")
    acme.tickets.count()

``Tenant`` (in :mod:`supportops.tenant`) is a thin set of area facades (``acme.triage``,
``acme.privacy``, ...); the CLI and the API are thin faces over them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from supportops.composition import CATALOGUE, Composition, compose
from supportops.datasets.paths import bind_workspace
from supportops.errors import ConfigError, NotFound, PermissionDenied
from supportops.governance import audit
from supportops.governance import tenants as tenant_store
from supportops.governance.context import OWNER_PRINCIPAL, Context
from supportops.governance.seal import INTEGRITY_PURPOSE, AuditSealer
from supportops.privacy.availability import privacy_room
from supportops.privacy.keys import derived_key, provider_for
from supportops.privacy.legacy import upgrade as legacy_upgrade
from supportops.privacy.service import Privacy
from supportops.settings import get as setting
from supportops.settings import workspace_path
from supportops.storage import Database, provision
from supportops.storage.database import describe_url
from supportops.tenant import Tenant as Tenant

CONFIG_FILE = "config.json"
DB_FILE = "supportops.db"

#: Builds the privacy room (pseudonymisation, reveal, erasure) for one tenant context; handed
#: to ``Workspace.open``/``init``. ``None`` switches pseudonymisation off (tests of the events
#: room on their own).
PrivacyFactory = Callable[[Path, dict[str, Any], Database, Context], Privacy]


class Workspace:
    """A folder with the database (or a pointer to PostgreSQL), artifacts and config.

    The workspace is the composition root: it composes what the rooms provide once
    (:func:`supportops.composition.compose`) and opens its database with it, so every handle
    and connection of that database carries the same event types, cipher, projectors,
    erasure hooks and index env."""

    def __init__(self, path: Path, db: Database, config: dict[str, Any],
                 privacy: PrivacyFactory | None = privacy_room) -> None:
        self.path = path
        self.db = db
        self.config = config
        #: What the rooms provide to this workspace (``db`` was built with it).
        self.composition = _composition_of(db)
        self.privacy_factory = privacy
        #: Bumped by every role change, disable or key rotation made through this process's
        #: handles: a face that remembers key checks (the API's) drops what it remembered.
        self.principals_changed = 0

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def init(cls, path: str | Path | None = None, database_url: str | None = None, *,
             privacy: PrivacyFactory | None = privacy_room) -> Workspace:
        """Create (or upgrade) a workspace and its schema; safe to run twice. Given a
        PostgreSQL admin URL, also creates the application role and records the URL every
        later command logs in with (see ``storage/provision.py``)."""
        root = workspace_path(path)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / "artifacts").mkdir(exist_ok=True)
        config_path = root / CONFIG_FILE
        config: dict[str, Any] = {}
        if config_path.exists():
            config = json.loads(config_path.read_text())
        config.setdefault("created_at", datetime.now(UTC).isoformat())
        config.setdefault("version", 1)
        url = _checked_url(database_url or setting("database_url") or config.get("database_url"))
        sealer = _audit_sealers(root, config)
        upgraded: dict[str, Any] = {}
        legacy = _legacy_step(root, config, upgraded)
        if url and url.startswith("postgresql"):
            config["database_url"] = _provisioned(url, sealer, legacy)
        _write_config(config_path, config)
        if not url or url.startswith("sqlite"):
            embedded = Database(url or _sqlite_url(root))
            embedded.migrate(audit_sealer=sealer, legacy=legacy)
            embedded.dispose()
        workspace = cls._connect(root, config, database_url, privacy)
        workspace._finish_upgrade(upgraded)
        return workspace

    def _finish_upgrade(self, upgraded: dict[str, Any]) -> None:
        """After an older release's data was brought forward: each such tenant's projection
        is rebuilt from the sealed log, and the upgrade is audited in its chain."""
        for tenant_id, counts in upgraded.items():
            tenant = self.tenant(tenant_id)
            tickets = tenant.events.rebuild()
            audit.record(self.db, tenant.ctx, "privacy.upgrade",
                         details={**counts, "tickets_rebuilt": tickets})

    @classmethod
    def open(cls, path: str | Path | None = None, database_url: str | None = None, *,
             privacy: PrivacyFactory | None = privacy_room) -> Workspace:
        root = workspace_path(path)
        config_path = root / CONFIG_FILE
        if not config_path.exists():
            raise NotFound(
                f"No workspace at {str(root)!r}. Create one with 'supportops init' "
                f"(or pass --workspace / set SUPPORTOPS_WORKSPACE)."
            )
        return cls._connect(root, json.loads(config_path.read_text()), database_url, privacy)

    @classmethod
    def _connect(cls, root: Path, config: dict[str, Any], database_url: str | None,
                 privacy: PrivacyFactory | None) -> Workspace:
        url = _app_url(_checked_url(database_url or setting("database_url")),
                       config.get("database_url"))
        composition = compose(root, config, _encoder_dir(root))
        db = Database(url or _sqlite_url(root), wiring=composition)
        bind_workspace(db.engine, root)  # before any connection: stored paths are relative
        db.check_boundary()
        return cls(root, db, config, privacy)

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    def describe(self) -> dict[str, str]:
        """Where the workspace lives, for faces to print: its folder, the database URL it
        logs in with (password hidden) and the back-end's name."""
        return {"workspace": str(self.path), "database": describe_url(self.db.url),
                "backend": self.db.engine.dialect.name}

    def rotate_master_key(self) -> dict[str, Any]:
        """Re-wrap every tenant key under a new master key (content is not re-encrypted)."""
        from supportops.privacy.rotation import rotate_master

        return rotate_master(self.db, self.path, self.config, self.audit_sealer).as_dict()

    def audit_sealer(self, tenant_id: str) -> AuditSealer:
        """The tenant's audit and anchor keys, derived from the master key (never stored) on
        first use."""
        return _audit_sealers(self.path, self.config)(tenant_id)

    def secret(self, purpose: str) -> bytes:
        """A key for one purpose derived from the master key and never stored (the console
        seals its session cookies with one), so the database alone cannot forge them."""
        return derived_key(provider_for(self.path, self.config), purpose)

    # -- tenants ------------------------------------------------------------------------------

    def create_tenant(self, tenant_id: str, name: str | None = None) -> tenant_store.TenantInfo:
        return tenant_store.create_tenant(self.db, tenant_id, name)

    def tenants(self) -> list[tenant_store.TenantInfo]:
        return tenant_store.list_tenants(self.db)

    def tenant(
        self, tenant_id: str, *, api_key: str | None = None, principal: str | None = None
    ) -> Tenant:
        """A handle acting in ``tenant_id``: as the owner (default), an API key's principal,
        or a named principal of that tenant."""
        tenant_store.validate_tenant_id(tenant_id)
        tenant_store.get_tenant(self.db, tenant_id)
        if api_key is not None:
            ctx = tenant_store.authenticate(self.db, api_key)
            if ctx.tenant_id != tenant_id:
                raise PermissionDenied(
                    f"This API key belongs to another tenant; it may not act in {tenant_id!r}."
                )
        elif principal is not None:
            ctx = tenant_store.principal_context(self.db, tenant_id, principal)
        else:
            ctx = Context(tenant_id=tenant_id, principal_id=OWNER_PRINCIPAL, role="admin")
        return Tenant(self, dataclasses.replace(ctx, sealer=self.audit_sealer(tenant_id)))

    def create_admin_key(self) -> str:
        """A new workspace-admin key (``sow_<secret>``), shown once; only its hash is kept in
        the workspace config. It may create and list tenants through the API, nothing else."""
        from supportops.governance import admin_keys

        key, self.config = admin_keys.create(self.config)
        _write_config(self.path / CONFIG_FILE, self.config)
        return key

    def authenticate_admin(self, key: str) -> None:
        """Refuse ``key`` unless it is one of this workspace's admin keys."""
        from supportops.governance import admin_keys

        admin_keys.check(self.config, key)

    def authenticate(self, api_key: str, now: datetime | None = None) -> Tenant:
        """The handle an API key acts as. Tenant and role come from the key alone (the API and
        the console never take a tenant from the request); unknown, disabled or expired (at
        ``now``, by default the current time) keys raise ``PermissionDenied``."""
        ctx = tenant_store.authenticate(self.db, api_key, now)
        return Tenant(self, dataclasses.replace(ctx, sealer=self.audit_sealer(ctx.tenant_id)))


def _sqlite_url(root: Path) -> str:
    return f"sqlite:///{root / DB_FILE}"


def _composition_of(db: Database) -> Composition:
    """The composition ``db`` was built with (``Workspace.open``/``init`` build both)."""
    if isinstance(db.wiring, Composition):
        return db.wiring
    raise ConfigError("A Workspace needs a database built with its composition; open it with "
                      "Workspace.open or Workspace.init.")


def _encoder_dir(root: Path) -> Path:
    """Where the sentence encoder's derived files (int8 ONNX export) live: the
    ``SUPPORTOPS_ENCODER_CACHE`` folder when set (shared by workspaces, built once), else the
    workspace's ``artifacts/encoders``."""
    return Path(setting("encoder_cache") or root / "artifacts" / "encoders")


def _checked_url(url: str | None) -> str | None:
    if url and not url.startswith(("postgresql", "sqlite")):
        raise ConfigError(
            f"Setting 'SUPPORTOPS_DATABASE_URL' must be a postgresql+psycopg:// or sqlite:// "
            f"URL. Got {url.split(':', 1)[0]!r}."
        )
    return url


def _audit_sealers(root: Path, config: dict[str, Any]) -> Callable[[str], AuditSealer]:
    """Per tenant, the audit and anchor keys derived from the master key (never stored)."""
    return lambda tenant_id: AuditSealer(
        tenant_id, lambda: derived_key(provider_for(root, config), INTEGRITY_PURPOSE))


def _legacy_step(root: Path, config: dict[str, Any],
                 upgraded: dict[str, Any]) -> Callable[[Connection], None]:
    """The migration step that brings an older release's data forward (it records what it
    upgraded in ``upgraded``)."""
    def step(conn: Connection) -> None:
        upgraded.update(legacy_upgrade(conn, provider_for(root, config), CATALOGUE))

    return step


def _provisioned(url: str, sealer: Callable[[str], AuditSealer],
                 legacy: Callable[[Connection], None] | None = None) -> str:
    """The application's URL for ``url``: provisioned when ``url`` is an admin's, as given
    (schema checked) when it already logs in as the application role."""
    role = provision.check_role_name(setting("database_app_role") or "")
    if provision.login_role(url) == role:
        provision.require_current_schema(url)
        return provision.app_url(url, role)
    return provision.provision(url, role, sealer, legacy)


def _app_url(given: str | None, recorded: str | None) -> str | None:
    """The URL to log in with: the recorded application URL when ``given`` is absent or names
    another login to the same database (an admin URL: commands never run as the admin)."""
    if not given or not recorded:
        return given or recorded
    if provision.same_database(given, recorded) and not provision.same_login(given, recorded):
        return recorded
    return given


def _write_config(path: Path, config: dict[str, Any]) -> None:
    """Written owner-only: it names the database the workspace logs in to."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(config, indent=2))

