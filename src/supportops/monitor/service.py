"""``Tenant.monitor``: reference statistics, replayed reports, comparison and the gate of
promotion (``TriageService.promote`` asks it), retraining. Faces call these methods and
format their answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supportops.datasets.snapshots import build_records, replacement_of
from supportops.errors import NotFound, ValidationFailed
from supportops.events import log
from supportops.governance.context import Context
from supportops.ml.embeddings import Encoder
from supportops.ml.estimators import encode_by_kind
from supportops.monitor import reference as refs
from supportops.monitor.compare import ALPHA, correctness, mcnemar
from supportops.monitor.feedback import FEEDBACK
from supportops.monitor.recorder import PredictionRecorder
from supportops.monitor.stream import read_stream
from supportops.monitor.thresholds import thresholds
from supportops.monitor.windows import cut, predictions, window
from supportops.storage import Database
from supportops.triage.model import holdout_split
from supportops.triage.service import DEFAULT_ENCODER, TEST_FRACTION, TriageService
from supportops.triage.serving import input_row


class Monitor:
    """Monitoring of one tenant's triage models, as one principal."""

    def __init__(self, db: Database, ctx: Context, service: TriageService,
                 recorder: PredictionRecorder | None = None,
                 on_alarms: Callable[[list[dict[str, Any]]], Any] | None = None) -> None:
        self.db = db
        self.ctx = ctx
        self.service = service
        self.recorder = recorder
        #: Told of each check's new alarms (the tenant queues its ``alarm.raised`` webhooks):
        #: every path that raises one (``check``, cron's ``run``) tells it, in any face.
        self.on_alarms = on_alarms
        self._shadows: dict[str, tuple[str, Any]] = {}

    # -- live traffic ----------------------------------------------------------------------

    def shadow(self, name: str, lines: Sequence[dict[str, Any]],
               rows: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]], float] | None:
        """The challenger's predictions on lines the champion served, from the ``rows`` the
        champion scored (pseudonymised once, for both); None: no challenger. Runs on the
        recorder's thread, never on the serving path."""
        version = self.service.registry.alias(self.ctx.tenant_id, name, "challenger")
        if version is None:
            return None
        cached = self._shadows.get(name)
        if cached is None or cached[0] != version:
            cached = self._shadows[name] = (version, self.service.load(name, version)[0])
        started = time.perf_counter()
        records = cached[1].predict_records([line.get("id") for line in lines], rows)
        return version, records, time.perf_counter() - started

    def set_threshold(self, key: str, value: float) -> dict[str, float]:
        """Set one of the tenant's alarm thresholds (audited)."""
        from supportops.monitor.thresholds import set_threshold

        return set_threshold(self.db, self.ctx, key, value)

    def flush(self) -> int:
        """Write the prediction records still queued on this handle."""
        return self.recorder.flush() if self.recorder is not None else 0

    # -- reference statistics --------------------------------------------------------------

    def record_reference(self, name: str, version: str, model: Any,
                         train_rows: Sequence[dict[str, Any]],
                         test_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Training's hook: compute and keep the version's reference statistics (our table
        and the MLflow run)."""
        ref = refs.build(model, train_rows, test_rows, model.target, _encoder_name(model))
        refs.save(self.db, self.ctx, name, version, ref)
        info = self.service.registry.version(self.ctx.tenant_id, name, version)
        self.service.registry.client.log_dict(info["run_id"], refs.for_mlflow(ref),
                                              "monitor/reference.json")
        return ref

    def reference(self, name: str, version: str, model: Any | None = None) -> dict[str, Any]:
        """The version's reference statistics; rebuilt from its snapshot (same split as
        training) for a version trained before monitoring existed."""
        found = refs.load(self.db, self.ctx, name, version)
        if found is not None:
            return found
        if model is None:
            model = self.service.load(name, version)[0]
        rows, target = self._training_rows(name, version)
        labels = [r[target] for r in rows]
        kept, held, _ = holdout_split(rows, labels, TEST_FRACTION, seed=0)
        ref = refs.build(model, [rows[i] for i in kept], [rows[i] for i in held], target,
                         _encoder_name(model))
        refs.save(self.db, self.ctx, name, version, ref)
        return ref

    def _training_rows(self, name: str, version: str) -> tuple[list[dict[str, Any]], str]:
        info = self.service.registry.version(self.ctx.tenant_id, name, version)
        target = str(info["params"].get("target"))
        if not info.get("snapshot"):
            raise NotFound(f"Version {version} of model {name!r} names no snapshot; its "
                           "reference statistics cannot be rebuilt.")
        snap = replacement_of(self.db, self.ctx, str(info["snapshot"]))
        rows = [r for r in snap.read().to_pylist() if r.get(target) not in (None, "")]
        return rows, target

    def drift_encoder(self, model: Any) -> Encoder:
        """The served model's own sentence encoder, else the default one."""
        if getattr(model, "encoder", None) is not None:
            return model.encoder  # type: ignore[no-any-return]
        encoder = self.service.encoder(DEFAULT_ENCODER)
        assert encoder is not None
        return encoder

    def reference_vectors(self, name: str, version: str, ref: dict[str, Any],
                          encoder: Encoder) -> npt.NDArray[np.float32]:
        """Vectors of the reference events from the embedding cache (computed and stored
        once for an encoder that had none yet; erased events are simply gone)."""
        ids = list((ref.get("embedding") or {}).get("event_ids") or [])
        found = refs.vectors(self.db, self.ctx, encoder.name, ids)
        if len(found) < 0.9 * len(ids):
            rows, _ = self._training_rows(name, version)
            refs.warm_embeddings(self.db, self.ctx, encoder, rows, ids)
            found = refs.vectors(self.db, self.ctx, encoder.name, ids)
        return found

    # -- replayed report -------------------------------------------------------------------

    def report(self, name: str, path: str | Path, window_size: int) -> dict[str, Any]:
        """Replay a JSON Lines stream through the champion (nothing is stored) in windows of
        ``window_size`` consecutive lines (see the CLI contract in ``cli/monitor.py``)."""
        if window_size < 1:
            raise ValidationFailed(f"The '--window' must be a positive number of lines. Got "
                                   f"{window_size}.")
        lines = read_stream(path)
        model, version = self.service.load(name)
        ref = self.reference(name, version, model)
        encoder = self.drift_encoder(model)
        ref_vectors = self.reference_vectors(name, version, ref, encoder)
        rows = [input_row({k: v for k, v in line.items() if k != "label"}) for line in lines]
        texts = self.service.pseudonymise_texts([r["text"] for r in rows])
        for row, text in zip(rows, texts, strict=True):
            row["text"] = text
        pred = predictions(model, rows) if rows else {"label": [], "confidence": np.zeros(0),
                                                      "abstained": np.zeros(0, bool)}
        # read by kind, as the reference vectors are: a token's spelling is no drift
        vectors = encode_by_kind(encoder, texts) if texts else np.zeros((0, 384), np.float32)
        limits = thresholds(self.db, self.ctx)
        labels = self.service.pseudonymise_labels(
            str(model.target), [None if line.get("label") is None else str(line["label"])
                                for line in lines])
        out = []
        for start in range(0, len(lines), window_size):
            end = min(start + window_size, len(lines))
            figures = window(ref, ref_vectors, vectors[start:end], cut(pred, start, end),
                             labels[start:end], [r["open_fields"] for r in rows[start:end]],
                             limits)
            out.append({"start": start, "end": end, **figures})
        return {"model": name, "version": version, "windows": out}

    # -- live checks, status, retraining ----------------------------------------------------

    def check(self, name: str) -> dict[str, Any]:
        """The champion's latest live records against its reference; new alarms appended
        (an alarm already raised on the same records is not raised again)."""
        from supportops.monitor import alarms, live

        self.flush()
        version = self.service.registry.alias(self.ctx.tenant_id, name, "champion")
        if version is None:
            return {"model": name, "version": None, "checked": 0, "alarms": []}
        limits = thresholds(self.db, self.ctx)
        records = live.latest_records(self.db, self.ctx, name, version,
                                      limit=max(1, int(limits["live_window"])))
        if len(records) < limits["min_window"]:
            return {"model": name, "version": version, "checked": len(records), "alarms": [],
                    "reason": f"fewer than {int(limits['min_window'])} served predictions"}
        model = self.service.load(name, version)[0]
        ref = self.reference(name, version, model)
        figures = self._live_figures(name, version, model, ref, records, limits)
        raised = alarms.raise_alarms(self.db, self.ctx, [
            {"model_name": name, "version": version, "kind": kind, "score": score,
             "threshold": limit, "n": len(records), "last_record": str(records[-1]["id"])}
            for kind, (score, limit, fired) in figures.items() if fired])
        if raised and self.on_alarms is not None:
            self.on_alarms(raised)
        return {"model": name, "version": version, "checked": len(records),
                "figures": {k: {"score": v[0], "threshold": v[1], "alarm": v[2]}
                            for k, v in figures.items()}, "alarms": raised}

    def _live_figures(self, name: str, version: str, model: Any, ref: dict[str, Any],
                      records: list[dict[str, Any]], limits: dict[str, float]
                      ) -> dict[str, tuple[float, float, bool]]:
        from supportops.monitor import live, stats

        out: dict[str, tuple[float, float, bool]] = {}
        ids = [str(r["embedding_id"]) for r in records if r["embedding_id"]]
        if ids:
            encoder = self.drift_encoder(model)
            current = self._live_vectors(encoder, ids)
            reference = self.reference_vectors(name, version, ref, encoder)
            auc = stats.domain_auc(reference, current)
            need = max(limits["drift_auc"], 0.5 + limits["drift_sigmas"]
                       * stats.auc_noise(len(reference), len(current)))
            out["input_drift"] = (round(auc, 4), round(need, 4), auc > need)
        mix = live.label_mix(records)
        ref_mix = ref.get("predictions") or {}
        if ref_mix:
            js = stats.jensen_shannon(ref_mix, mix)
            need = max(limits["label_js"], stats.null_js_quantile(ref_mix, len(records)))
            out["label_drift"] = (round(js, 4), round(need, 4), js > need)
        held = ref.get("held_out_accuracy")
        if held is not None:
            est = stats.estimated_accuracy([r["confidence"] for r in records],
                                           ref.get("calibration"))
            floor = float(held) - limits["accuracy_drop"]
            out["accuracy_drop"] = (round(est, 4), round(floor, 4), est < floor)
        return out

    def _live_vectors(self, encoder: Encoder, event_ids: list[str]) -> npt.NDArray[np.float32]:
        """Vectors of the served tickets' texts: from the embedding cache, computed and
        stored once for those not there yet."""
        found = refs.vectors(self.db, self.ctx, encoder.name, event_ids)
        if len(found) < len(event_ids):
            rows, _ = build_records(self.db, self.ctx, _position(self.db, self.ctx))
            refs.warm_embeddings(self.db, self.ctx, encoder, rows, event_ids)
            found = refs.vectors(self.db, self.ctx, encoder.name, event_ids)
        return found

    def status(self, name: str | None = None, since: datetime | None = None
               ) -> dict[str, Any]:
        """Per model: champion and challenger, reference figures, per-version live figures
        (served, abstention, latency percentiles, accuracy from feedback), recent alarms;
        the tenant's thresholds; and agents' verdicts on the assistant's drafts (given at or
        after ``since``)."""
        from supportops.monitor import alarms, live
        from supportops.monitor.assistant import assistant_feedback

        self.flush()
        names = [name] if name else _model_names(self.service)
        registry = self.service.registry
        models = []
        for n in names:
            champion = registry.alias(self.ctx.tenant_id, n, "champion")
            ref = refs.load(self.db, self.ctx, n, champion) if champion else None
            models.append({
                "model": n, "champion": champion,
                "challenger": registry.alias(self.ctx.tenant_id, n, "challenger"),
                "reference": {k: (ref or {}).get(k) for k in
                              ("held_out_accuracy", "abstention_rate", "held_out", "rows")},
                "versions": live.per_version(self.db, self.ctx, n),
                "alarms": alarms.recent(self.db, self.ctx, n)})
        return {"models": models, "thresholds": thresholds(self.db, self.ctx),
                "assistant": assistant_feedback(self.db, self.ctx, since)}

    def retrain(self, name: str, reason: str = "requested") -> dict[str, Any]:
        """Snapshot at the current position, train with the champion's settings, register
        as challenger (champion when the name has none), lineage recorded by training."""
        from supportops.governance import audit

        registry = self.service.registry
        champion = registry.alias(self.ctx.tenant_id, name, "champion")
        versions = [v for v in registry.versions(self.ctx.tenant_id, name)]
        if not versions:
            raise NotFound(f"Model {name!r} has no version in tenant {self.ctx.tenant_id!r}; "
                           f"train one with 'supportops train triage --name {name} ...'.")
        base = registry.version(self.ctx.tenant_id, name, champion) if champion else versions[-1]
        p = base["params"]
        requested = p.get("precision_requested", "default")
        result = self.service.train(
            name, str(p["target"]), kind=str(p.get("kind", "auto")),
            encoder=str(p.get("encoder") or DEFAULT_ENCODER).split("/")[-1]
            if p.get("encoder") not in (None, "none") else "none",
            precision=None if requested in (None, "default") else float(requested),
            refit=str(p.get("refit", "True")) == "True",
            alias="challenger" if champion else "champion")
        audit.record(self.db, self.ctx, "model.retrain", details={
            "model": name, "version": result["version"], "from": base["version"],
            "reason": reason, "snapshot": result["snapshot"]})
        return {"model": name, "version": result["version"], "from": base["version"],
                "alias": "challenger" if champion else "champion", "reason": reason,
                "snapshot": result["snapshot"], "metrics": result["metrics"]}

    def run(self) -> dict[str, Any]:
        """Cron-safe: check every model's live traffic, retrain where a new alarm asks for
        it, carry out pending erasure retrains. Running it again on the same traffic raises
        no alarm twice and retrains nothing twice."""
        from supportops.governance import lineage

        checks, retrained = [], []
        for name in _model_names(self.service):
            check = self.check(name)
            checks.append(check)
            if check["alarms"]:
                kinds = ",".join(sorted({a["kind"] for a in check["alarms"]}))
                retrained.append(self.retrain(name, reason=f"alarm: {kinds}"))
        erasure = None
        if any(a["action"] == "retrain_model" for a in lineage.pending(self.db, self.ctx)):
            erasure = self.service.retrain_flagged()
        return {"checks": checks, "retrained": retrained, "erasure_retrains": erasure}

    # -- champion / challenger -------------------------------------------------------------

    def feedback_labels(self, name: str) -> dict[str, str]:
        """ticket -> the latest final label people gave for model ``name``."""
        events = log.tail(self.db, self.ctx, 10_000_000, FEEDBACK)
        return {str(e.ticket_id): str(e.payload["final"]) for e in events
                if e.ticket_id and e.payload.get("model_name") == name
                and e.payload.get("final")}

    def compare(self, name: str, challenger: str | None = None) -> dict[str, Any]:
        """Both versions' accuracy on feedback-labelled tickets neither trained on, and the
        exact McNemar test between them."""
        self.ctx.require("admin", "ml_engineer", action="compare models")
        tenant = self.ctx.tenant_id
        registry = self.service.registry
        champion = registry.alias(tenant, name, "champion")
        challenger = challenger or registry.alias(tenant, name, "challenger")
        if champion is None or challenger is None:
            raise NotFound(f"Model {name!r} needs a champion and a challenger to compare (has "
                           f"champion {champion}, challenger {challenger}).")
        rows, truth, excluded = self._feedback_rows(name, (champion, challenger))
        right = {v: correctness(self.service.load(name, v)[0], rows, truth)
                 for v in (champion, challenger)}
        test = mcnemar(right[champion], right[challenger])
        return {"model": name, "tickets": len(rows), "excluded_trained_on": excluded,
                "champion": _side(champion, right[champion]),
                "challenger": _side(challenger, right[challenger]), "mcnemar": test.as_dict()}

    def _feedback_rows(self, name: str, versions: Sequence[str]
                       ) -> tuple[list[dict[str, Any]], list[str], int]:
        labels = self.feedback_labels(name)
        trained: set[str] = set()
        for version in versions:
            trained |= {str(r["ticket_id"]) for r in self._training_rows(name, version)[0]}
        wanted = {t for t in labels if t not in trained}
        position = _position(self.db, self.ctx)
        rows, _ = build_records(self.db, self.ctx, position, ticket_ids=wanted)
        return rows, [labels[str(r["ticket_id"])] for r in rows], len(set(labels) & trained)

    def promotion_check(self, name: str, version: str, *, force: bool = False
                        ) -> dict[str, Any]:
        """Promotion's gate (``TriageService.gate``): ``version`` may replace the champion
        only when significantly better on feedback (exact McNemar, p < 0.05), unless
        ``force``. Returns the comparison, for the audit entry and the answer."""
        current = self.service.registry.alias(self.ctx.tenant_id, name, "champion")
        result = self.compare(name, challenger=version)
        test = result["mcnemar"]
        if not test["significant"] and not force:
            raise ValidationFailed(
                f"Version {version} of model {name!r} is not significantly better than champion "
                f"{current} on {result['tickets']} feedback-labelled tickets (accuracy "
                f"{result['challenger']['accuracy']} vs {result['champion']['accuracy']}, exact "
                f"McNemar p={test['p_value']:.4g}, needs p < {ALPHA} in its favour); gather more "
                "feedback, or pass --force to promote anyway.")
        return {**result, "forced": force and not test["significant"]}

def _model_names(service: TriageService) -> list[str]:
    return sorted({str(v["name"]) for v in service.registry.versions(service.ctx.tenant_id)})


def _encoder_name(model: Any) -> str | None:
    encoder = getattr(model, "encoder", None)
    return str(encoder.name) if encoder is not None else None


def _side(version: str, right: npt.NDArray[np.bool_]) -> dict[str, Any]:
    return {"version": version, "correct": int(right.sum()), "n": len(right),
            "accuracy": round(float(right.mean()), 4) if len(right) else None}


def _position(db: Database, ctx: Context) -> int:
    from sqlalchemy import select

    from supportops.storage.schema import tenants

    with db.begin(ctx.tenant_id) as conn:
        return int(conn.execute(select(tenants.c.last_seq).where(
            tenants.c.id == ctx.tenant_id)).scalar_one())
