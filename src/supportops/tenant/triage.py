"""The tenant's triage area: train, predict, feedback, evaluate, and the model registry's
verbs (``supportops train/predict/eval triage``, ``triage feedback``, ``models ...``).

Prediction has one path: the CLI's ``predict triage`` and the API's ``POST /v1/triage`` both
call :meth:`Triage.predict` and get the same record. Promotion has one, gated: a new champion
must beat the current one on feedback (the monitor room's test), whichever face asks.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supportops.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from supportops.tenant import Tenant
    from supportops.triage.service import TriageService
    from supportops.triage.serving import TriageServer


class Triage:
    """Triage models of one tenant (ML imports stay lazy: the foundation must not pay)."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant

    @cached_property
    def service(self) -> TriageService:
        """The triage room (registry, loading, write-back) with this tenant's hooks: the
        monitor room keeps each trained version's reference and gates promotion."""
        from supportops.triage.service import TriageService

        tenant = self._tenant
        return TriageService(tenant.db, tenant.ctx, tenant.path, tenant.privacy_room(),
                             on_trained=self._record_reference, gate=self._gate)

    def _record_reference(self, name: str, version: str, model: Any, *rows: Any) -> None:
        self._tenant.monitor.record_reference(name, version, model, *rows)

    def _gate(self, name: str, version: str, force: bool) -> dict[str, Any]:
        return self._tenant.monitor.promotion_check(name, version, force=force)

    # -- training and prediction ------------------------------------------------------------

    def train(self, name: str, target: str, *, data: str | Path | None = None,
              format: str | None = None, ticket_ids: set[str] | None = None,
              **options: Any) -> dict[str, Any]:
        """Snapshot, train, evaluate, register and make champion (``alias`` in ``options``
        says otherwise). With ``data``, ingest it first (idempotent) and train on its tickets;
        else on ``ticket_ids``, or on every labelled ticket."""
        report = None
        if data is not None:
            if format is None:
                raise ValidationFailed(f"Training data {str(data)!r} needs its 'format' "
                                       "(banking77, csv, jsonl, ...).")
            ticket_ids = set()
            report = self._tenant.ingest(data, format, seen_tickets=ticket_ids)
        result = self.service.train(name, target, ticket_ids=ticket_ids, **options)
        if report is not None:
            result["ingest"] = report.as_dict()
        return result

    def server(self, name: str = "triage") -> TriageServer:
        """The champion of ``name``, kept loaded; every prediction it serves is recorded for
        monitoring (off the serving path) and answered by the challenger in shadow."""
        servers = self._tenant.servers
        server = servers.get(name)
        if server is None:
            from supportops.triage.serving import TriageServer

            server = TriageServer(self.service, name)
            server.observer = self._tenant.prediction_recorder().observe
            server = servers.setdefault(name, server)
        return server

    def predict(self, lines: list[dict[str, Any]] | str | Path, name: str = "triage", *,
                write_back: bool = False, batch_size: int = 1024,
                prepared: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Records ``{id, label, confidence, top, abstained, reason (when abstaining), model,
        version}`` for ``{"id", "text", ...fields}`` lines (or a JSON Lines file of them), by
        the champion of ``name`` in batches of ``batch_size`` (pseudonymised first, unless
        ``prepared`` holds the rows ``server(name).prepare`` made of ``lines``: one batch).
        ``write_back``: confident predictions on stored tickets become events."""
        job = not isinstance(lines, list)  # a file: a batch job, recorded before it returns
        rows = read_lines(Path(lines)) if not isinstance(lines, list) else lines
        if prepared is not None:
            return self._predict(rows, name, write_back, prepared)
        records = [record for start in range(0, len(rows), batch_size)
                   for record in self._predict(rows[start:start + batch_size], name, write_back)]
        if job:
            self._tenant.close()
        return records

    def _predict(self, lines: list[dict[str, Any]], name: str, write_back: bool,
                 prepared: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        server = self.server(name)
        keyed = [{"id": None, **line} for line in lines]
        records = server.predict(keyed) if prepared is None else server.score(keyed, prepared)
        for record in records:
            record["model"], record["version"] = name, server.version
        if write_back and server.version is not None:
            self.service.write_back(name, server.version, server.target, records)
        return records

    def predict_one(self, text: str, name: str = "triage", ticket_id: str | None = None,
                    **fields: Any) -> dict[str, Any]:
        """:meth:`predict` for one text; ``ticket_id`` names the stored ticket it is for, so
        monitoring can find its input."""
        return self.predict([{"id": ticket_id, "text": text, **fields}], name)[0]

    def announce(self, ticket_id: str, record: dict[str, Any]) -> None:
        """Tell the ``ticket.triaged`` webhooks about a prediction for one of this tenant's
        tickets (ids, label and confidence only); another tenant's id is not found."""
        self._tenant.tickets.get(ticket_id, with_events=False)
        record["ticket_id"] = ticket_id
        self._tenant.webhooks.emit("ticket.triaged", {
            "ticket_id": ticket_id, "model": record.get("model"),
            "version": record.get("version"), "label": record.get("label"),
            "confidence": record.get("confidence"), "abstained": record.get("abstained")})

    def feedback(self, ticket_id: str, *, name: str = "triage", final: str,
                 predicted: str | None = None, version: str | None = None,
                 action: str = "accept") -> dict[str, Any]:
        """An agent accepts (``action="accept"``) or corrects a triage prediction on a stored
        ticket; the final label is a person's and enters the next dataset snapshot.
        ``version`` defaults to the champion of ``name``."""
        from supportops.monitor.feedback import check_feedback, record_feedback

        check_feedback(ticket_id, final, predicted, action)
        registry, tenant = self.service.registry, self._tenant
        version = version or registry.alias(tenant.id, name, "champion")
        if version is None:
            raise NotFound(f"Model {name!r} has no champion in tenant {tenant.id!r}; name the "
                           "'version' the prediction came from.")
        target = registry.version(tenant.id, name, version)["params"].get("target")
        if target is None:
            raise ValidationFailed(f"Version {version} of model {name!r} records no target; "
                                   "feedback needs to know which label it decides.")
        privacy = tenant.privacy_room()
        return record_feedback(tenant.db, tenant.ctx, privacy.protector() if privacy else None,
                               ticket_id=ticket_id, name=name, version=str(version),
                               target=str(target), final=final, predicted=predicted,
                               action=action)

    def evaluate(self, name: str, data: str | Path, format: str) -> dict[str, Any]:
        """The champion of ``name`` on a labelled file (not ingested)."""
        from supportops.events.importers import importer_for
        from supportops.triage.service import rows_from_items

        rows = rows_from_items(importer_for(format)(Path(data), None), self.service.privacy)
        return self.service.evaluate(name, rows)

    # -- the registry -----------------------------------------------------------------------

    def versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Registered versions with aliases, metrics, snapshot and erasure flag."""
        return self.service.models(name)

    def version(self, name: str, version: str) -> dict[str, Any]:
        """One registered version of ``name``: metrics, aliases, snapshot, erasure flag."""
        from supportops.triage.compare import find_version

        return find_version(self.versions(name), name, version)

    def compare(self, name: str, a: str, b: str) -> dict[str, Any]:
        """Two versions of ``name`` side by side: metrics, their differences, snapshots."""
        from supportops.triage.compare import compare_versions

        return compare_versions(self.versions(name), name, a, b)

    def reproduce(self, name: str, version: str) -> dict[str, Any]:
        """Rebuild ``version`` from its lineage in a scratch area and compare it with its
        record (``models reproduce``); nothing is registered."""
        return self.service.reproduce(name, version)

    def card(self, name: str, version: str) -> dict[str, Any]:
        """The model card of ``version`` (``models card``, the console's model page)."""
        return self.service.card(name, version)

    def promote(self, name: str, version: str, *, alias: str = "champion",
                force: bool = False) -> dict[str, Any]:
        """Point ``alias`` at ``version`` (audited); a new champion only when significantly
        better than the current one on feedback, unless ``force`` (see
        ``TriageService.promote``)."""
        return self.service.promote(name, version, alias, force=force)

    def rollback(self, name: str) -> dict[str, Any]:
        """Make the previous champion champion again (audited)."""
        return self.service.rollback(name)

    def retrain_flagged(self, margin: float | None = None) -> dict[str, Any]:
        """Retrain every version an erasure flagged; aliases move to replacements that are
        not significantly worse."""
        return self.service.retrain_flagged(margin)


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Prediction inputs from a JSON Lines file: objects with ``text`` (and ``id``) or
    structured fields; blank lines skipped, a bad line refused by its number."""
    import orjson

    lines = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                raise ValidationFailed(f"{path}: line {number} is not JSON ({err}).") from None
            if not isinstance(obj, dict) or ("text" not in obj and len(obj) <= 1):
                raise ValidationFailed(f"{path}: line {number} needs an object with 'id' and "
                                       f"'text' (or structured fields).")
            lines.append(obj)
    return lines
