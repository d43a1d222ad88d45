"""A tenant handle: one principal acting in one tenant, as a thin set of area facades.

Each area's verbs run parallel to the CLI's commands (``supportops principals create`` is
``tenant.principals.create``, ``supportops models promote`` is ``tenant.triage.promote``);
the CLI, the API and the console call these and format the answer. Areas that join several
rooms (erasure and retraining, drafted answers and webhooks) live in this package, above the
rooms, which never import it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportops.errors import PermissionDenied
from supportops.events import log
from supportops.events.importers import importer_for
from supportops.events.ingest import IngestReport, ingest
from supportops.events.tickets import TicketsView
from supportops.governance.context import OWNER_PRINCIPAL, Context
from supportops.privacy.keys import derived_key, provider_for
from supportops.privacy.service import Privacy
from supportops.tenant.areas import Audit, Datasets, Events, Lineage, Principals
from supportops.tenant.privacy import PrivacyArea
from supportops.tenant.triage import Triage

if TYPE_CHECKING:
    from supportops.analytics.facade import Analytics
    from supportops.monitor.recorder import PredictionRecorder
    from supportops.tenant.joined import Assist, Monitor
    from supportops.triage.serving import TriageServer
    from supportops.webhooks import Webhooks
    from supportops.workspace import Workspace

__all__ = ["Tenant"]


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
        #: Champions kept loaded, per model name (``tenant.triage.server``).
        self.servers: dict[str, TriageServer] = {}
        self._recorder: PredictionRecorder | None = None

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
        source: str | Path | list[Any],
        format: str = "jsonl",
        *,
        strict: bool = False,
        on_read: Callable[[int], None] | None = None,
        batch_size: int = 5000,
        seen_tickets: set[str] | None = None,
    ) -> IngestReport:
        """Ingest a file (``supportops ingest``) or a list of native event objects (``POST
        /v1/events``, numbered from 1); bad records are reported, good ones kept
        (all-or-nothing if strict). Idempotent: a record seen before is skipped."""
        if isinstance(source, list):
            from supportops.events.importers.native import items_from_objects

            items = items_from_objects(source)
        else:
            items = importer_for(format)(Path(source), on_read)
        privacy = self.privacy_room()
        return ingest(self.db, self.ctx, items, strict=strict, batch_size=batch_size,
                      protector=privacy.protector() if privacy else None,
                      seen_tickets=seen_tickets)

    # -- areas ----------------------------------------------------------------------------

    @cached_property
    def events(self) -> Events:
        """The event log: tail, count, replay into the ticket projection."""
        return Events(self.db, self.ctx)

    @cached_property
    def principals(self) -> Principals:
        """API keys and users of the tenant, their roles (``supportops principals``)."""
        return Principals(self.db, self.ctx, self._principals_changed)

    @cached_property
    def datasets(self) -> Datasets:
        """Point-in-time snapshots of the log (``supportops datasets``)."""
        return Datasets(self.db, self.ctx, self.artifacts)

    @cached_property
    def triage(self) -> Triage:
        """Triage models: train, predict, feedback, evaluate, versions, promotion
        (``supportops train/predict/eval triage``, ``triage feedback``, ``models``)."""
        return Triage(self)

    @property
    def monitor(self) -> Monitor:
        """Reference statistics, drift reports, live checks, champion/challenger comparison,
        retraining (``supportops monitor ...``, ``models compare``, ``models retrain``)."""
        from supportops.tenant.joined import Monitor

        return Monitor(self.db, self.ctx, self.triage.service, self._recorder,
                       on_alarms=self._alarms_raised, webhooks=self.webhooks)

    @property
    def privacy(self) -> PrivacyArea:
        """Reveal, opt-out, erasure, retention and subject access, acting as this context."""
        factory = self._workspace.privacy_factory or Privacy.of
        room = factory(self.path, self._workspace.config, self.db, self.ctx)
        return PrivacyArea(room, self)

    def privacy_room(self) -> Privacy | None:
        """The privacy room handed to other rooms when pseudonymisation is on (``None``
        when switched off)."""
        return self.privacy.room if self._workspace.privacy_factory is not None else None

    @property
    def assist(self) -> Assist:
        """The answer assistant: knowledge base, similar tickets, drafted answers, feedback."""
        from supportops.tenant.joined import Assist

        return Assist(self.db, self.ctx, self.privacy_room(), self._predictor(), tenant=self)

    @property
    def audit(self) -> Audit:
        """The audit trail: entries (by customer id, token or principal), verify, anchor."""
        return Audit(self.db, self.ctx, log.verify_log, subject_names=self._subject_names)

    @property
    def lineage(self) -> Lineage:
        """Where data went: per customer, snapshot or model version."""
        return Lineage(self.db, self.ctx, subject_names=self._subject_names)

    @cached_property
    def analytics(self) -> Analytics:
        """Support report, root-cause clusters and SLA targets (``supportops analytics``);
        kept on the handle, so its sentence encoder loads once."""
        from supportops.analytics.facade import Analytics
        from supportops.workspace import _encoder_dir

        return Analytics(self.db, self.ctx, _encoder_dir(self.path))

    @property
    def webhooks(self) -> Webhooks:
        """Outgoing webhook subscriptions and deliveries of this tenant."""
        from supportops.webhooks import Webhooks

        path, config = self._workspace.path, self._workspace.config
        return Webhooks(self.db, self.ctx,
                        lambda: derived_key(provider_for(path, config), "webhooks"))

    # -- hooks the rooms are handed -------------------------------------------------------

    def _subject_names(self, subject: str) -> tuple[str, str]:
        """A customer id or token as (keyed reference, token): how lineage and the audit
        trail name a customer."""
        token = self.privacy.subject_token(subject)
        return self.privacy.subject_ref(token), token

    def _alarms_raised(self, alarms: list[dict[str, Any]]) -> None:
        """Monitoring's hook: queue an ``alarm.raised`` webhook per new alarm (figures and
        ids only), whichever face ran the check."""
        for alarm in alarms:
            self.webhooks.emit("alarm.raised", {
                k: alarm.get(k) for k in ("model_name", "version", "kind", "score",
                                          "threshold", "n")})

    def _principals_changed(self) -> None:
        """A role change, disable or rotation: remembered key checks of this workspace's
        faces are no longer good (see ``Workspace.principals_changed``)."""
        self._workspace.principals_changed += 1

    def close(self) -> None:
        """Record what this handle has served so far (a batch job's predictions are in the
        monitoring tables when it returns, not whenever the recorder's thread next wakes)."""
        if self._recorder is not None:
            self._recorder.flush()

    def prediction_recorder(self) -> PredictionRecorder:
        """One recorder per handle: served predictions are recorded off the serving path,
        and the challenger answers the same inputs in shadow."""
        if self._recorder is None:
            from supportops.monitor.recorder import PredictionRecorder

            self._recorder = PredictionRecorder(self.db, self.ctx, shadow=self.monitor.shadow)
        return self._recorder

    def _predictor(self) -> Callable[[str], dict[str, Any] | None]:
        """Triage's champion, when there is one, for the assistant's cross-check."""
        from supportops.errors import SupportopsError

        def predict(text: str) -> dict[str, Any] | None:
            try:
                return self.triage.predict_one(text)
            except SupportopsError:  # no triage model yet: nothing to cross-check with
                return None

        return predict

