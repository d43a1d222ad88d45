"""The library's front door: a workspace folder, its database, and tenant handles.

    ws = Workspace.init("./supportops-workspace")     # or Workspace.open(...)
    ws.create_tenant("acme")
    acme = ws.tenant("acme")                          # the workspace owner, as admin
    acme.ingest("tickets.csv", format="csv")
    acme.tickets.count()

The CLI and the API are thin faces over these objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import supportops.datasets.erasure  # registers the snapshots' erasure hook
import supportops.ml.erasure  # noqa: F401 - registers the embeddings' erasure hook
from supportops import settings
from supportops.datasets.paths import bind_workspace
from supportops.errors import ConfigError, NotFound, PermissionDenied
from supportops.events import log, projection
from supportops.events.importers import importer_for
from supportops.events.ingest import IngestReport, ingest
from supportops.events.log import Protector
from supportops.events.schemas import Event
from supportops.events.tickets import TicketsView
from supportops.governance import tenants as tenant_store
from supportops.governance.audit import AuditTrail
from supportops.governance.context import OWNER_PRINCIPAL, Context
from supportops.governance.lineage import LineageView
from supportops.privacy.service import Privacy
from supportops.privacy.service import enable as enable_privacy
from supportops.storage import Database

if TYPE_CHECKING:
    from supportops.triage.service import TriageService
    from supportops.triage.serving import TriageServer

CONFIG_FILE = "config.json"
DB_FILE = "supportops.db"

#: Builds the protector (pseudonymisation) for a tenant; installed by the privacy room.
ProtectorFactory = Callable[["Workspace", Context], Protector | None]


class Workspace:
    """A folder with the database (or a pointer to PostgreSQL), artifacts and config."""

    def __init__(self, path: Path, db: Database, config: dict[str, Any]) -> None:
        self.path = path
        self.db = db
        self.config = config
        self.protector_factory: ProtectorFactory | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def init(cls, path: str | Path | None = None, database_url: str | None = None) -> Workspace:
        """Create (or upgrade) a workspace and its schema; safe to run twice."""
        root = settings.workspace_path(path)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / "artifacts").mkdir(exist_ok=True)
        config_path = root / CONFIG_FILE
        config: dict[str, Any] = {}
        if config_path.exists():
            config = json.loads(config_path.read_text())
        config.setdefault("created_at", datetime.now(UTC).isoformat())
        config.setdefault("version", 1)
        config_path.write_text(json.dumps(config, indent=2))
        ws = cls._connect(root, config, database_url)
        ws.db.migrate()
        return ws

    @classmethod
    def open(cls, path: str | Path | None = None, database_url: str | None = None) -> Workspace:
        root = settings.workspace_path(path)
        config_path = root / CONFIG_FILE
        if not config_path.exists():
            raise NotFound(
                f"No workspace at {str(root)!r}. Create one with 'supportops init' "
                f"(or pass --workspace / set SUPPORTOPS_WORKSPACE)."
            )
        return cls._connect(root, json.loads(config_path.read_text()), database_url)

    @classmethod
    def _connect(cls, root: Path, config: dict[str, Any], database_url: str | None) -> Workspace:
        url = database_url or settings.get("database_url")
        if url and not url.startswith(("postgresql", "sqlite")):
            raise ConfigError(
                f"Setting 'SUPPORTOPS_DATABASE_URL' must be a postgresql+psycopg:// or sqlite:// "
                f"URL. Got {url.split(':', 1)[0]!r}."
            )
        db = Database(url, settings.get("database_app_role")) if url else \
            Database.sqlite(root / DB_FILE)
        bind_workspace(db.engine, root)  # stored paths are relative to the workspace folder
        ws = cls(root, db, config)
        enable_privacy(ws)  # pseudonymisation on by default, for every face
        return ws

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    # -- tenants ------------------------------------------------------------------------------

    def create_tenant(self, tenant_id: str, name: str | None = None) -> tenant_store.TenantInfo:
        info = tenant_store.create_tenant(self.db, tenant_id, name)
        if self.db.is_postgres and not settings.get("mlflow_tracking_uri"):
            from supportops.ml.registry import postgres_store

            postgres_store(self.db.url, tenant_id)  # the tenant's own MLflow schema
        return info

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
        return Tenant(self, ctx)


class Tenant:
    """Everything one principal may do in one tenant; every call carries its context."""

    def __init__(self, workspace: Workspace, ctx: Context) -> None:
        self.workspace = workspace
        self.ctx = ctx
        self.tickets = TicketsView(workspace.db, ctx)
        self._servers: dict[str, TriageServer] = {}

    @property
    def id(self) -> str:
        return self.ctx.tenant_id

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
        factory = self.workspace.protector_factory
        protector = factory(self.workspace, self.ctx) if factory else None
        return ingest(self.workspace.db, self.ctx, reader(Path(path), on_read), strict=strict,
                      protector=protector, batch_size=batch_size, seen_tickets=seen_tickets)

    def report(self, **options: Any) -> dict[str, Any]:
        """The support analytics report (``supportops analytics report``); options as
        :func:`supportops.analytics.report` takes them (start, end, period, by, top)."""
        from supportops.analytics import report

        return report(self.workspace.db, self.ctx, **options)

    # -- triage (ML imports stay lazy: the foundation must not pay for them) ----------------

    @property
    def triage_models(self) -> TriageService:
        from supportops.triage.service import TriageService

        privacy = self.privacy if self.workspace.protector_factory else None
        return TriageService(self.workspace.db, self.ctx, self.workspace.path, privacy)

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
        return Privacy.of(self.workspace.path, self.workspace.config, self.workspace.db,
                          self.ctx)

    @property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.workspace.db, self.ctx)

    @property
    def lineage(self) -> LineageView:
        return LineageView(self.workspace.db, self.ctx)

    def events_tail(self, n: int = 20, event_type: str | None = None) -> list[Event]:
        return log.tail(self.workspace.db, self.ctx, n, event_type)

    def events_count(self) -> int:
        return log.count(self.workspace.db, self.ctx)

    def rebuild(self) -> int:
        """Replay the log into the ticket projection; returns the number of tickets."""
        return projection.rebuild(self.workspace.db, self.ctx)

    def create_principal(
        self, name: str, role: str, kind: str = "api_key"
    ) -> tuple[tenant_store.Principal, str | None]:
        return tenant_store.create_principal(self.workspace.db, self.ctx, name, role, kind)

    def principals(self) -> list[tenant_store.Principal]:
        return tenant_store.list_principals(self.workspace.db, self.ctx)
