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

import supportops.assist.erasure  # registers the assistant's index projector and erasure hook
import supportops.datasets.erasure  # registers the snapshots' erasure hook
import supportops.ml.erasure  # registers the embeddings' erasure hook
import supportops.monitor.erasure  # noqa: F401 - registers the prediction records' hook
from supportops.assist.state import IndexEnv
from supportops.assist.state import install as install_index
from supportops.datasets.paths import bind_workspace
from supportops.errors import (
    ConfigError,
    NotFound,
    PermissionDenied,
    SupportopsError,
    ValidationFailed,
)
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
from supportops.privacy.keys import Keyring, derived_key, provider_for
from supportops.privacy.legacy import upgrade as legacy_upgrade
from supportops.privacy.service import Privacy
from supportops.settings import get as setting
from supportops.settings import workspace_path
from supportops.storage import Database, provision
from supportops.storage.database import describe_url

if TYPE_CHECKING:
    from supportops.analytics.facade import Analytics
    from supportops.assist import AssistService
    from supportops.monitor.recorder import PredictionRecorder
    from supportops.monitor.service import Monitor
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
        _install_index(db, root, config)
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


def _install_index(db: Database, root: Path, config: dict[str, Any]) -> None:
    """The assistant's index keys terms under each tenant's key and embeds with the
    workspace's encoder files."""
    install_index(db.engine, IndexEnv(lambda ctx: Keyring(provider_for(root, config), ctx),
                                      _encoder_dir(root)))


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
        self._recorder: PredictionRecorder | None = None
        self._analytics: Analytics | None = None

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

    @property
    def analytics(self) -> Analytics:
        """Support report, root-cause clusters and SLA targets (``supportops analytics``);
        kept on the handle, so its sentence encoder loads once."""
        if self._analytics is None:
            from supportops.analytics.facade import Analytics

            self._analytics = Analytics(self.db, self.ctx, _encoder_dir(self.path))
        return self._analytics

    # -- triage (ML imports stay lazy: the foundation must not pay for them) ----------------

    @property
    def triage_models(self) -> TriageService:
        from supportops.triage.service import TriageService

        return TriageService(self.db, self.ctx, self.path, self._privacy_or_none(),
                             on_trained=self._record_reference)

    def _record_reference(self, name: str, version: str, model: Any, *rows: Any) -> None:
        """Training's hook: the monitor room keeps the version's reference statistics."""
        self.monitor.record_reference(name, version, model, *rows)

    @property
    def monitor(self) -> Monitor:
        """Reference statistics, drift reports, champion/challenger comparison and gated
        promotion, retraining (``supportops monitor ...``, ``models compare``)."""
        from supportops.monitor.service import Monitor

        return Monitor(self.db, self.ctx, self.triage_models, self._recorder,
                       on_alarms=self._alarms_raised)

    def _alarms_raised(self, alarms: list[dict[str, Any]]) -> None:
        """Monitoring's hook: queue an ``alarm.raised`` webhook per new alarm (figures and
        ids only), whichever face ran the check."""
        for alarm in alarms:
            self.webhooks.emit("alarm.raised", {
                k: alarm.get(k) for k in ("model_name", "version", "kind", "score",
                                          "threshold", "n")})

    def _prediction_recorder(self) -> PredictionRecorder:
        """One recorder per handle: served predictions are recorded off the serving path,
        and the challenger answers the same inputs in shadow."""
        if self._recorder is None:
            from supportops.monitor.recorder import PredictionRecorder

            self._recorder = PredictionRecorder(self.db, self.ctx, shadow=self.monitor.shadow)
        return self._recorder

    def train_triage(self, data: str | Path, format: str, target: str, name: str,
                     **options: Any) -> dict[str, Any]:
        """Ingest ``data`` (idempotent), snapshot its tickets, train, evaluate, register and
        make the new version champion."""
        seen: set[str] = set()
        report = self.ingest(data, format, seen_tickets=seen)
        result = self.triage_models.train(name, target, ticket_ids=seen, **options)
        result["ingest"] = report.as_dict()
        return result

    def triage(self, text: str, name: str = "triage", ticket_id: str | None = None,
               **fields: Any) -> dict[str, Any]:
        """Triage one ticket text with the champion of ``name`` (loaded once, hot-swapped);
        ``ticket_id`` names the stored ticket it is for, so monitoring can find its input."""
        return self.triage_server(name).predict_one(text, ticket_id, **fields)

    def triage_server(self, name: str = "triage") -> TriageServer:
        """The champion of ``name``, kept loaded; every prediction it serves is recorded for
        monitoring (off the serving path) and answered by the challenger in shadow."""
        server = self._servers.get(name)
        if server is None:
            from supportops.triage.serving import TriageServer

            server = TriageServer(self.triage_models, name)
            server.observer = self._prediction_recorder().observe
            server = self._servers.setdefault(name, server)
        return server

    def triage_feedback(self, ticket_id: str, *, name: str = "triage", final: str,
                        predicted: str | None = None, version: str | None = None,
                        action: str = "accept") -> dict[str, Any]:
        """An agent accepts (``action="accept"``) or corrects a triage prediction on a stored
        ticket; the final label is a person's and enters the next dataset snapshot. ``version``
        defaults to the champion of ``name``."""
        from supportops.monitor.feedback import check_feedback, record_feedback

        check_feedback(ticket_id, final, predicted, action)
        service = self.triage_models
        version = version or service.registry.alias(self.id, name, "champion")
        if version is None:
            raise NotFound(f"Model {name!r} has no champion in tenant {self.id!r}; name the "
                           "'version' the prediction came from.")
        target = service.registry.version(self.id, name, version)["params"].get("target")
        if target is None:
            raise ValidationFailed(f"Version {version} of model {name!r} records no target; "
                                   "feedback needs to know which label it decides.")
        privacy = self._privacy_or_none()
        return record_feedback(self.db, self.ctx, privacy.protector() if privacy else None,
                               ticket_id=ticket_id, name=name, version=str(version),
                               target=str(target), final=final, predicted=predicted,
                               action=action)

    @property
    def assist(self) -> AssistService:
        """The answer assistant: knowledge base, similar tickets, drafted answers, feedback."""
        from supportops.assist import AssistService

        return AssistService(self.db, self.ctx, self._privacy_or_none(), self._predictor())

    def _predictor(self) -> Callable[[str], dict[str, Any] | None]:
        """Triage's champion, when there is one, for the assistant's cross-check."""

        def predict(text: str) -> dict[str, Any] | None:
            try:
                return self.triage(text)
            except SupportopsError:  # no triage model yet: nothing to cross-check with
                return None

        return predict

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
        self, name: str, role: str, kind: str = "api_key", *, scopes: list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[tenant_store.Principal, str | None]:
        return tenant_store.create_principal(self.db, self.ctx, name, role, kind,
                                             scopes=scopes, expires_at=expires_at)

    def principals(self) -> list[tenant_store.Principal]:
        return tenant_store.list_principals(self.db, self.ctx)

    def set_principal_role(self, name: str, role: str) -> str:
        """Give a principal a new role (audited); returns the role it had."""
        from supportops.governance.roles import set_principal_role

        previous = set_principal_role(self.db, self.ctx, name, role)
        self._workspace.principals_changed += 1
        return previous

    def disable_principal(self, name: str) -> None:
        """Disable a principal: its key stops working at once (audited)."""
        from supportops.governance.roles import disable_principal

        disable_principal(self.db, self.ctx, name)
        self._workspace.principals_changed += 1

    def rotate_key(self, name: str) -> str:
        """A fresh key for an API-key principal; the old one stops working (audited)."""
        key = tenant_store.rotate_key(self.db, self.ctx, name)
        self._workspace.principals_changed += 1
        return key

    # -- faces' shared calls: each face calls one of these and formats the answer ----------

    def ingest_records(self, records: list[Any], *, strict: bool = False) -> IngestReport:
        """Ingest native event objects (the API's ``POST /v1/events``), numbered from 1,
        with the per-record errors and idempotency of a JSON Lines file."""
        from supportops.events.importers.native import items_from_objects

        privacy = self._privacy_or_none()
        protector = privacy.protector() if privacy else None
        return ingest(self.db, self.ctx, items_from_objects(records), strict=strict,
                      protector=protector)

    def subject_token(self, subject: str) -> str:
        """The pseudonym of a customer id; a pseudonym is returned as it is."""
        from supportops.privacy.vault import TOKEN_RE

        return subject if TOKEN_RE.fullmatch(subject) else self.privacy.subject_token(subject)

    def audit_entries(self, *, subject: str | None = None, **filters: Any) -> list[Any]:
        """Audit entries (``audit list``); ``subject`` may be a token, a principal name or a
        customer id (matched as given and as its token)."""
        subjects = None
        if subject is not None:
            token = self.subject_token(subject)
            # entries about a customer name it by its keyed reference (older ones by its token)
            subjects = sorted({subject, token, self.privacy.subject_ref(token)})
        return self.audit.list(subject=subjects, **filters)

    def lineage_of(self, *, subject: str | None = None, snapshot: str | None = None,
                   model: str | None = None) -> dict[str, Any]:
        """Lineage of exactly one of: a customer (id or token), a snapshot, ``NAME@VERSION``."""
        from supportops.errors import ValidationFailed

        chosen = [x for x in (subject, snapshot, model) if x is not None]
        if len(chosen) != 1:
            raise ValidationFailed("Give exactly one of --subject, --snapshot or --model "
                                   f"(got {len(chosen)}).")
        if subject is not None:
            token = self.subject_token(subject)
            return self.lineage.subject(self.privacy.subject_ref(token), token)
        if snapshot is not None:
            return self.lineage.snapshot(snapshot)
        name, sep, version = str(model).rpartition("@")
        if not sep or not name or not version:
            raise ValidationFailed(f"--model must look like NAME@VERSION. Got {model!r}.")
        return self.lineage.model(name, version)

    def create_dataset(self, name: str, require: str | None = None) -> Any:
        """Snapshot the log now (``datasets create``)."""
        from supportops.datasets.snapshots import create_snapshot

        return create_snapshot(self.db, self.ctx, self.artifacts, name, require=require)

    def datasets(self) -> list[Any]:
        from supportops.datasets.snapshots import list_snapshots

        return list_snapshots(self.db, self.ctx)

    def dataset(self, snapshot_id: str) -> Any:
        from supportops.datasets.snapshots import get_snapshot

        return get_snapshot(self.db, self.ctx, snapshot_id)

    def rebuild_flagged_datasets(self) -> list[dict[str, str]]:
        from supportops.datasets.snapshots import rebuild_flagged

        return rebuild_flagged(self.db, self.ctx, self.artifacts)

    def evaluate_triage(self, name: str, data: str | Path, fmt: str) -> dict[str, Any]:
        """The champion of ``name`` on a labelled file (not ingested)."""
        from supportops.triage.service import rows_from_items

        service = self.triage_models
        rows = rows_from_items(importer_for(fmt)(Path(data), None), service.privacy)
        return service.evaluate(name, rows)

    def compare_models(self, name: str, a: str, b: str) -> dict[str, Any]:
        """Two versions of ``name`` side by side: metrics, their differences, snapshots."""
        from supportops.triage.compare import compare_versions

        return compare_versions(self.triage_models.models(name), name, a, b)

    def triage_batch(self, lines: list[dict[str, Any]], name: str = "triage", *,
                     prepared: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Triage many ``{"text", ...fields}`` lines in one pass of the champion of
        ``name`` (pseudonymised first, unless ``prepared`` holds the rows that
        ``triage_server(name).prepare`` made of them); each record names the model and
        version."""
        server = self.triage_server(name)
        keyed = [{"id": None, **line} for line in lines]
        records = server.predict(keyed) if prepared is None else server.score(keyed, prepared)
        for record in records:
            record["model"], record["version"] = name, server.version
        return records

    def announce_triage(self, ticket_id: str, record: dict[str, Any]) -> None:
        """Tell the ``ticket.triaged`` webhooks about a prediction for one of this tenant's
        tickets (ids, label and confidence only); another tenant's id is not found."""
        self.tickets.get(ticket_id, with_events=False)
        record["ticket_id"] = ticket_id
        self.webhooks.emit("ticket.triaged", {
            "ticket_id": ticket_id, "model": record.get("model"),
            "version": record.get("version"), "label": record.get("label"),
            "confidence": record.get("confidence"), "abstained": record.get("abstained")})

    def model_version(self, name: str, version: str) -> dict[str, Any]:
        """One registered version of ``name``: metrics, aliases, snapshot, erasure flag."""
        from supportops.triage.compare import find_version

        return find_version(self.triage_models.models(name), name, version)

    def erase(self, subject: str, kind: str = "customer", *, retrain: bool = False
              ) -> dict[str, Any]:
        """Erase a data subject everywhere (``privacy erase``), then, with ``retrain``, the
        flagged models; tells the ``erasure.completed`` webhooks (by token only)."""
        report = self.privacy.erase(subject, kind)  # type: ignore[arg-type]
        if retrain:
            report["retrain"] = self.triage_models.retrain_flagged()
        self.webhooks.emit("erasure.completed", {
            "subject": str(report.get("subject_token") or report.get("subject") or ""),
            "kind": kind})
        return report

    def draft_answer(self, text: str, ticket_id: str | None = None) -> dict[str, Any]:
        """A drafted reply (``assist answer``); for a ticket of this tenant, also tell the
        ``draft.ready`` webhooks (ids and confidence only)."""
        if ticket_id is not None:
            self.tickets.get(ticket_id, with_events=False)  # another tenant's id: not found
        result = self.assist.answer(text, ticket_id)
        if ticket_id is not None:
            self.webhooks.emit("draft.ready", {
                "ticket_id": ticket_id, "answer_id": result.get("answer_id"),
                "confidence": result.get("confidence"), "abstained": result.get("abstained")})
        return result

    def check_monitor(self, name: str = "triage") -> dict[str, Any]:
        """Check the champion's live figures; each new alarm queues the ``alarm.raised``
        webhooks (the server's deliverer sends them)."""
        return self.monitor.check(name)

    def run_monitor(self) -> dict[str, Any]:
        """``monitor run`` (cron-safe): check every champion, retrain where asked; then, as
        cron runs it without a server, make one delivery pass over the tenant's due webhooks
        (new alarms first tried at once; failures wait for their back-off and the next pass,
        here or in a server)."""
        result = self.monitor.run()
        result["webhooks"] = self.webhooks.deliver_due()
        return result

    @property
    def webhooks(self) -> Any:
        """Outgoing webhook subscriptions and deliveries of this tenant."""
        from supportops.webhooks import Webhooks

        path, config = self._workspace.path, self._workspace.config
        return Webhooks(self.db, self.ctx,
                        lambda: derived_key(provider_for(path, config), "webhooks"))
