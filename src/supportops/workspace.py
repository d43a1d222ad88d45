"""The library's front door: a workspace folder, its database, and tenant handles.

    ws = Workspace.init("./supportops-workspace")     # or Workspace.open(...)
    ws.create_tenant("acme")
    acme = ws.tenant("acme")                          # the workspace owner, as admin
    acme.ingest("tickets.csv", format="csv")
    acme.tickets.count()

The CLI and the API are thin faces over these objects.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

import supportops.datasets.erasure  # registers the snapshots' erasure hook
import supportops.ml.erasure  # noqa: F401 - registers the embeddings' erasure hook
from supportops.datasets.paths import bind_workspace
from supportops.errors import ConfigError, NotFound, PermissionDenied
from supportops.events import log, projection
from supportops.events.importers import importer_for
from supportops.events.ingest import IngestReport, ingest
from supportops.events.schemas import Event
from supportops.events.tickets import TicketsView
from supportops.governance import audit
from supportops.governance import tenants as tenant_store
from supportops.governance.context import OWNER_PRINCIPAL, Context
from supportops.governance.integrity import AuditTrail
from supportops.governance.lineage import LineageView
from supportops.governance.seal import INTEGRITY_PURPOSE, AuditSealer
from supportops.privacy.availability import privacy_room, seal_content
from supportops.privacy.keys import derived_key, provider_for
from supportops.privacy.legacy import upgrade as legacy_upgrade
from supportops.privacy.service import Privacy
from supportops.settings import get as setting
from supportops.settings import workspace_path
from supportops.storage import Database, provision

if TYPE_CHECKING:
    from supportops.triage.service import TriageService
    from supportops.triage.serving import TriageServer

CONFIG_FILE = "config.json"
DB_FILE = "supportops.db"

#: Builds the privacy room (pseudonymisation, reveal, erasure) for one tenant context; handed
#: to ``Workspace.open``/``init``. ``None`` switches pseudonymisation off (tests of the events
#: room on their own).
PrivacyFactory = Callable[[Path, dict[str, Any], Database, Context], Privacy]


class Workspace:
    """A folder with the database (or a pointer to PostgreSQL), artifacts and config."""

    def __init__(self, path: Path, db: Database, config: dict[str, Any],
                 privacy: PrivacyFactory | None = privacy_room) -> None:
        self.path = path
        self.db = db
        self.config = config
        self.privacy_factory = privacy

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
            tickets = tenant.rebuild()
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
        db = Database(url or _sqlite_url(root))
        bind_workspace(db.engine, root)  # before any connection: stored paths are relative
        seal_content(db, root, config)
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

    def rotate_master_key(self) -> dict[str, Any]:
        """Re-wrap every tenant key under a new master key (content is not re-encrypted)."""
        from supportops.privacy.rotation import rotate_master

        return rotate_master(self.db, self.path, self.config, self.audit_sealer).as_dict()

    def audit_sealer(self, tenant_id: str) -> AuditSealer:
        """The tenant's audit and anchor keys, derived from the master key (never stored) on
        first use."""
        return _audit_sealers(self.path, self.config)(tenant_id)

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

    def authenticate(self, api_key: str) -> Tenant:
        """The handle an API key acts as. Tenant and role come from the key alone (the API and
        the console never take a tenant from the request); unknown or disabled keys raise
        ``PermissionDenied``."""
        ctx = tenant_store.authenticate(self.db, api_key)
        return Tenant(self, dataclasses.replace(ctx, sealer=self.audit_sealer(ctx.tenant_id)))


def _sqlite_url(root: Path) -> str:
    return f"sqlite:///{root / DB_FILE}"


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
        upgraded.update(legacy_upgrade(conn, provider_for(root, config)))

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


class Tenant:
    """Everything one principal may do in one tenant; every call carries its context.

    The handle holds its workspace privately and a database bound to its tenant: a handle
    obtained with an API key or as a named principal cannot open other tenants or act as the
    owner through it.
    """

    def __init__(self, workspace: Workspace, ctx: Context) -> None:
        self._workspace = workspace
        self.ctx = ctx
        self.db = workspace.db.scoped(ctx.tenant_id)
        self.tickets = TicketsView(self.db, ctx)
        self._servers: dict[str, TriageServer] = {}

    @property
    def id(self) -> str:
        return self.ctx.tenant_id

    @property
    def is_owner(self) -> bool:
        return self.ctx.principal_id == OWNER_PRINCIPAL

    @property
    def workspace(self) -> Workspace:
        """The workspace, for the owner's handle only (it can open every tenant)."""
        if not self.is_owner:
            raise PermissionDenied(
                f"Principal {self.ctx.principal_id!r} acts in tenant {self.id!r} only; the "
                "workspace is the owner's. Use this handle's own methods."
            )
        return self._workspace

    @property
    def path(self) -> Path:
        """The workspace folder (models and their stores live under it)."""
        return self._workspace.path

    @property
    def artifacts(self) -> Path:
        return self._workspace.artifacts

    def ingest(
        self,
        path: str | Path,
        format: str = "jsonl",
        *,
        strict: bool = False,
        on_read: Callable[[int], None] | None = None,
        batch_size: int = 5000,
        seen_tickets: set[str] | None = None,
    ) -> IngestReport:
        """Ingest a file; bad records are reported, good ones kept (all-or-nothing if strict)."""
        reader = importer_for(format)
        privacy = self._privacy_or_none()
        protector = privacy.protector() if privacy else None
        return ingest(self.db, self.ctx, reader(Path(path), on_read), strict=strict,
                      protector=protector, batch_size=batch_size, seen_tickets=seen_tickets)

    def report(self, **options: Any) -> dict[str, Any]:
        """The support analytics report (``supportops analytics report``); options as
        :func:`supportops.analytics.report` takes them (start, end, period, by, top)."""
        from supportops.analytics import report

        return report(self.db, self.ctx, **options)

    # -- triage (ML imports stay lazy: the foundation must not pay for them) ----------------

    @property
    def triage_models(self) -> TriageService:
        from supportops.triage.service import TriageService

        return TriageService(self.db, self.ctx, self.path, self._privacy_or_none())

    def train_triage(self, data: str | Path, format: str, target: str, name: str,
                     **options: Any) -> dict[str, Any]:
        """Ingest ``data`` (idempotent), snapshot its tickets, train, evaluate, register and
        make the new version champion."""
        seen: set[str] = set()
        report = self.ingest(data, format, seen_tickets=seen)
        result = self.triage_models.train(name, target, ticket_ids=seen, **options)
        result["ingest"] = report.as_dict()
        return result

    def triage(self, text: str, name: str = "triage", **fields: Any) -> dict[str, Any]:
        """Triage one ticket text with the champion of ``name`` (loaded once, hot-swapped)."""
        server = self._servers.get(name)
        if server is None:
            from supportops.triage.serving import TriageServer

            server = self._servers[name] = TriageServer(self.triage_models, name)
        return server.predict_one(text, **fields)

    @property
    def privacy(self) -> Privacy:
        """Reveal, opt-out, erasure and retention, acting as this context."""
        factory = self._workspace.privacy_factory or Privacy.of
        return factory(self.path, self._workspace.config, self.db, self.ctx)

    def _privacy_or_none(self) -> Privacy | None:
        """The privacy room when pseudonymisation is on (``None`` when switched off)."""
        return self.privacy if self._workspace.privacy_factory is not None else None

    def export_subject(self, subject: str, out: str | Path) -> dict[str, Any]:
        """Subject access: the subject's events, tickets and derived records, originals
        restored, written to ``out`` (roles that may reveal; audited)."""
        from supportops.privacy.export import export_subject

        return export_subject(self.db, self.ctx, self.privacy.keyring(), subject, Path(out))

    @property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.db, self.ctx, log.verify_log)

    @property
    def lineage(self) -> LineageView:
        return LineageView(self.db, self.ctx)

    def events_tail(self, n: int = 20, event_type: str | None = None) -> list[Event]:
        return log.tail(self.db, self.ctx, n, event_type)

    def events_count(self) -> int:
        return log.count(self.db, self.ctx)

    def rebuild(self) -> int:
        """Replay the log into the ticket projection; returns the number of tickets."""
        return projection.rebuild(self.db, self.ctx)

    def create_principal(
        self, name: str, role: str, kind: str = "api_key"
    ) -> tuple[tenant_store.Principal, str | None]:
        return tenant_store.create_principal(self.db, self.ctx, name, role, kind)

    def principals(self) -> list[tenant_store.Principal]:
        return tenant_store.list_principals(self.db, self.ctx)
