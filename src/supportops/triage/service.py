"""Training, evaluation, prediction and promotion of triage models, per tenant.

Train: snapshot the tenant's tickets (opt-outs and erasures excluded), split (by time where
the tickets carry real opening times, else stratified), fit a ``TriageModel``, evaluate on the
held-out part, log the run to MLflow with the snapshot as dataset input, register a version,
record lineage, and make it ``champion``. Promotion and rollback are audited.

Classes with fewer than ``MIN_EVAL_TICKETS`` tickets train the model but are never held out:
the metrics name them as too rare to evaluate. Unless the tenant asks for a precision, the
abstention threshold aims at ``DEFAULT_PRECISION`` but never answers less than
``DEFAULT_MIN_COVERAGE`` of the validation tickets: a new model that abstains on most tickets
is of no use to anyone.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from supportops.datasets.snapshots import (
    LABELS,
    Snapshot,
    create_snapshot,
    fold_tickets,
    to_record,
)
from supportops.errors import ValidationFailed
from supportops.events.ingest import Parsed, validate_draft
from supportops.events.schemas import Event, EventDraft
from supportops.governance import audit, lineage
from supportops.governance.context import Context, Role
from supportops.ml import embedding_cache
from supportops.ml.embeddings import Encoder
from supportops.ml.estimators import pseudonyms_by_kind
from supportops.ml.registry import DatasetRef, Registry
from supportops.privacy.service import Privacy
from supportops.storage import Database
from supportops.triage.abstention import PRECISION_TARGETS, coverage_at_precision
from supportops.triage.model import MIN_EVAL_TICKETS, TriageModel, holdout_split, rare_labels
from supportops.triage.provenance import card_facts, provenance

TRAIN_ROLES: tuple[Role, ...] = ("admin", "ml_engineer")
TEST_FRACTION = 0.2
#: The precision target of the abstention threshold when the tenant names none ...
DEFAULT_PRECISION = 0.95
#: ... relaxed where meeting it would answer less than this share of the validation tickets.
DEFAULT_MIN_COVERAGE = 0.8
#: Coverage is reported at these precisions (the eval contract's .90/.95/.99 and .80).
REPORTED_PRECISIONS: tuple[float, ...] = tuple(sorted({0.80, *PRECISION_TARGETS}))
DEFAULT_ENCODER = "minilm-onnx-int8"
#: ``--encoder none``: text models on TF-IDF word and char n-grams alone (no sentence
#: encoder to build or load: fast cold starts, small models, quick tests).
NO_ENCODER = "none"


@dataclass
class TriageService:
    """Triage models of one tenant, as one principal."""

    db: Database
    ctx: Context
    workspace_path: Path
    #: Pseudonymises inference inputs as ingestion would (None: texts are used as given).
    privacy: Privacy | None = None
    #: Called with (name, version, model, train rows, test rows) once a version is registered
    #: (the monitor room keeps its reference statistics; this room cannot import it).
    on_trained: Callable[..., Any] | None = None
    #: Called with (name, version, force) before a new champion replaces one: returns the
    #: comparison that allows it, or raises (the monitor room's test on feedback).
    gate: Callable[[str, str, bool], dict[str, Any]] | None = None

    def pseudonymise_texts(self, texts: list[str]) -> list[str]:
        return self.privacy.pseudonymise_texts(texts) if self.privacy and texts else texts

    def pseudonymise_labels(self, target: str, labels: list[str | None]) -> list[str | None]:
        """Labels of ``target`` given from outside, as ingestion stores them (the model's
        label space holds the stored values, tokens included)."""
        return self.privacy.pseudonymise_labels(target, labels) if self.privacy else labels

    @cached_property
    def registry(self) -> Registry:
        """The tenant's own MLflow store (a file per tenant in the workspace)."""
        return Registry.for_tenant(self.workspace_path, self.ctx.tenant_id)

    def encoder(self, kind: str = DEFAULT_ENCODER) -> Encoder | None:
        """The sentence encoder ``kind`` (see ``ml.embeddings.KINDS``), or None for ``"none"``
        (TF-IDF n-grams only)."""
        if kind == NO_ENCODER:
            return None
        return Encoder(kind, self.workspace_path / "artifacts" / "encoders")  # type: ignore[arg-type]

    # -- training --------------------------------------------------------------------------

    def train(self, name: str, target: str, *, ticket_ids: set[str] | None = None,
              kind: str = "auto", encoder: str = DEFAULT_ENCODER,
              precision: float | None = None, refit: bool = True,
              alias: str = "champion") -> dict[str, Any]:
        """Snapshot, split, fit, evaluate, register and promote to ``alias`` (see the module
        docstring). ``precision`` None: the default target, relaxed to keep coverage (see
        above); ``refit``: see ``TriageModel``."""
        self.ctx.require(*TRAIN_ROLES, action="train models")
        _check_options(target, kind)
        snap = create_snapshot(self.db, self.ctx, self.workspace_path / "artifacts",
                               f"triage-{name}", ticket_ids=ticket_ids, require=target)
        rows = snap.read().to_pylist()
        _check_labels(name, target, rows)
        kind = _choose_kind(rows) if kind == "auto" else kind
        model = TriageModel(kind, self.encoder(encoder) if kind == "text" else None,
                            target=target, precision=precision or DEFAULT_PRECISION,
                            min_coverage=DEFAULT_MIN_COVERAGE if precision is None else 0.0,
                            refit=refit)
        self._warm(model, rows)
        fitted = fit_and_measure(model, name, rows, target)
        version = self._register(name, model, fitted, snap, {
            "precision_requested": "default" if precision is None else precision})
        with self.db.begin(self.ctx.tenant_id) as conn:
            lineage.record_model(conn, self.ctx, name, version, snap.id)
        if self.on_trained is not None:
            self.on_trained(name, version, model, fitted.train_rows, fitted.test_rows)
        self._place(name, version, alias)
        return {"model": name, "version": version, "metrics": fitted.metrics,
                "snapshot": snap.id, "digest": snap.digest}

    def _warm(self, model: TriageModel, rows: list[dict[str, Any]]) -> None:
        """Load the stored vectors of the rows' texts (read by kind, as the model reads
        them: see ``encode_by_kind``) into the encoder; encode and store the rest."""
        if model.encoder is not None:
            embedding_cache.warm(self.db, self.ctx, model.encoder,
                                 [r["text_event_id"] for r in rows],
                                 [pseudonyms_by_kind(r["text"] or "") for r in rows],
                                 [r["subject"] for r in rows])

    def _register(self, name: str, model: TriageModel, fitted: Fitted, snap: Snapshot,
                  extra: dict[str, Any]) -> str:
        """Log the run (parameters, numeric metrics, lineage, card facts) and register it."""
        target = model.target
        params = {"target": target, "kind": model.kind, "refit": model.refit,
                  "precision_target": model.threshold_.precision_target_, **extra,
                  "encoder": model.encoder.name if model.encoder else "none",
                  "split": fitted.split, "text_setting": model.text_setting_,
                  "train_rows": len(fitted.train_rows), "test_rows": len(fitted.test_rows),
                  "too_rare_classes": ",".join(fitted.metrics["too_rare_classes"]) or "none"}
        return self.registry.log_training(
            self.ctx.tenant_id, name, model=model, params=params,
            metrics={k: v for k, v in fitted.metrics.items() if isinstance(v, int | float)},
            dataset=DatasetRef(snap.id, snap.digest, snap.log_position, snap.row_count,
                               str(snap.path), snap.exclusions),
            tags={"supportops.task": "triage", "supportops.target": target},
            provenance=provenance(self.privacy is not None),
            card=card_facts(model, fitted.test_rows))

    def reproduce(self, name: str, version: str) -> dict[str, Any]:
        """Rebuild ``version`` from its lineage in a scratch area and compare it with what was
        recorded (see :mod:`supportops.triage.reproduce`); nothing is registered."""
        from supportops.triage import reproduce

        return reproduce.reproduce(self, name, version)

    def card(self, name: str, version: str) -> dict[str, Any]:
        """The model card of ``version``: data, exclusions, metrics by class, abstention,
        known limits (see :mod:`supportops.triage.reproduce`)."""
        from supportops.triage import reproduce

        return reproduce.card(self, name, version)

    # -- registry --------------------------------------------------------------------------

    def promote(self, name: str, version: str, alias: str = "champion", *,
                force: bool = False) -> dict[str, Any]:
        """Point ``alias`` at ``version``: the one promotion every face calls. A new champion
        over an existing one must pass ``gate`` (the monitor room's significance test on
        feedback; refused without one) unless ``force``; the audit entry keeps the evidence.
        A new champion goes on top of the history that :meth:`rollback` walks back."""
        self.ctx.require(*TRAIN_ROLES, action="promote models")
        self.refuse_erased(name, version, "promoted")  # before any comparison
        previous = self.registry.alias(self.ctx.tenant_id, name, alias)
        evidence = None
        if alias == "champion" and previous not in (None, version):
            evidence = {"comparison": self._gate(name, version, force)}
        return self._place(name, version, alias, evidence)

    def _place(self, name: str, version: str, alias: str,
               evidence: dict[str, Any] | None = None) -> dict[str, Any]:
        """The move under :meth:`promote` (checked there) and training (a freshly trained
        version takes the alias it was trained for)."""
        tenant = self.ctx.tenant_id
        previous = self.registry.alias(tenant, name, alias)
        history = None
        if alias == "champion":
            history = self.registry.champion_history(tenant, name)
            history = history if history and history[-1] == version else [*history, version]
        self._point(name, version, alias, history, "model.promote", {
            "model": name, "version": version, "alias": alias, "previous": previous,
            **(evidence or {})})
        return {"model": name, "alias": alias, "version": version, "previous": previous,
                **(evidence or {})}

    def _gate(self, name: str, version: str, force: bool) -> dict[str, Any] | None:
        """The gate's evidence for a new champion (it raises when the version may not be);
        without a gate only ``force`` lets one through."""
        if self.gate is not None:
            return self.gate(name, version, force)
        if not force:
            raise ValidationFailed(
                f"Version {version} of model {name!r} cannot replace the champion: no "
                "comparison on feedback is available here; pass --force to promote anyway.")
        return None

    def _point(self, name: str, version: str, alias: str, history: list[str] | None,
               action: str, details: dict[str, Any]) -> None:
        """Move ``alias`` (and the champion history, when given), record the deployment and
        the audit entry, and tell servers to reload: promotion's and rollback's one move."""
        tenant = self.ctx.tenant_id
        self.registry.set_alias(tenant, name, alias, version)
        self.registry.clear_alias_removed(tenant, name, alias)
        if history is not None:
            self.registry.set_champion_history(tenant, name, history)
        with self.db.begin(tenant) as conn:
            lineage.record_deployment(conn, self.ctx, name, version, alias)
            audit.record(conn, self.ctx, action, details=details)
        _bump_pointer(self.workspace_path, tenant, name)

    def rollback(self, name: str) -> dict[str, Any]:
        """Make the champion before the current one champion again (each rollback walks one
        step further back through the promotions). The earlier champion passed the gate
        once; a version holding erased data is refused as :meth:`promote` refuses it."""
        self.ctx.require(*TRAIN_ROLES, action="roll back models")
        tenant = self.ctx.tenant_id
        current = self.registry.alias(tenant, name, "champion")
        history = self.registry.champion_history(tenant, name)
        while history and history[-1] == current:
            history.pop()
        if current is None or not history:
            raise ValidationFailed(f"Model {name!r} has no earlier champion to roll back to.")
        target = history[-1]
        self.refuse_erased(name, target, "rolled back to")
        self._point(name, target, "champion", history, "model.rollback",
                    {"model": name, "from": current, "to": target})
        return {"model": name, "alias": "champion", "version": target, "previous": current}

    def refuse_erased(self, name: str, version: str, what: str) -> None:
        """A version that holds erased data (or whose artefacts are gone) never serves again."""
        flag = lineage.erased_flag(self.db, self.ctx, name, version)
        if flag is None:
            flag = self.registry.version(self.ctx.tenant_id, name, version)["tombstone"]
        if flag is not None:
            raise ValidationFailed(
                f"Version {version} of model {name!r} holds erased data ({flag}) and cannot be "
                f"{what}; run 'supportops models retrain-flagged' and promote its replacement.")

    def retrain_flagged(self, margin: float | None = None) -> dict[str, Any]:
        """Retrain every version an erasure flagged (see :mod:`supportops.triage.retrain`)."""
        from supportops.triage import retrain

        return retrain.retrain_flagged(self, retrain.MARGIN if margin is None else margin)

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        versions = self.registry.versions(self.ctx.tenant_id, name)
        for v in versions:
            try:
                info = lineage.for_model(self.db, self.ctx, v["name"], v["version"])
                v["contains_erased_data"] = info["contains_erased_data"]
            except Exception:  # a version registered outside supportops has no lineage
                v["contains_erased_data"] = None
        return versions

    # -- inference -------------------------------------------------------------------------

    def load(self, name: str, alias: str = "champion") -> tuple[TriageModel, str]:
        model, version = self.registry.load(self.ctx.tenant_id, name, alias)
        return model, version

    def write_back(self, name: str, version: str, target: str,
                   records: Sequence[dict[str, Any]]) -> int:
        """Record confident predictions on existing tickets as events; abstentions are not
        written. Every target's event names the model, its version and its confidence (the
        schema refuses half a mark), so snapshots never take a model's guess for a label.
        Channel and sentiment have no event of their own: they are ``ticket.updated`` with
        the predicted value in ``state``. Returns how many events were appended."""
        self.ctx.require("admin", "agent", action="write predictions back")
        kinds: dict[str, tuple[str, Any]] = {
            "category": ("ticket.categorized", lambda v: {"category": v}),
            "group": ("ticket.assigned", lambda v: {"group": v}),
            "assignee": ("ticket.assigned", lambda v: {"assignee": v}),
            "priority": ("ticket.priority_changed", lambda v: {"priority": v}),
            "status": ("ticket.status_changed", lambda v: {"status": v}),
            "channel": ("ticket.updated", lambda v: {"state": {"channel": v}}),
            "sentiment": ("ticket.updated", lambda v: {"state": {"attributes": {"sentiment": v}}}),
        }
        if target not in kinds:
            raise ValidationFailed(f"Cannot write predictions back for target {target!r}; "
                                   f"targets: {', '.join(kinds)}.")
        kind, body = kinds[target]
        from datetime import UTC, datetime

        from sqlalchemy import select

        from supportops.events import log, projection
        from supportops.events.schemas import WRITE_BACK_KEY_PREFIX
        from supportops.storage.schema import tickets

        ids = [str(r["id"]) for r in records if not r["abstained"] and r["id"] is not None]
        with self.db.begin(self.ctx.tenant_id) as conn:
            existing = set(conn.execute(select(tickets.c.ticket_id).where(
                tickets.c.tenant_id == self.ctx.tenant_id,
                tickets.c.ticket_id.in_(ids))).scalars()) if ids else set()
            now = datetime.now(UTC)
            drafts = [
                EventDraft(kind, now, {**body(r["label"]), "model": name, "model_version": version,
                                       "confidence": min(1.0, max(0.0, r["confidence"]))},
                           f"{WRITE_BACK_KEY_PREFIX}{name}:{version}:{r['id']}:{target}",
                           ticket_id=str(r["id"]))
                for r in records if not r["abstained"] and str(r["id"]) in existing]
            for d in drafts:
                problem = validate_draft(0, d)
                if problem is not None:
                    raise ValidationFailed(problem.message)
            stored, _ = log.append(conn, self.ctx, drafts)
            projection.project(conn, self.ctx, stored)
        return len(stored)

    def evaluate(self, name: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        model, version = self.load(name)
        target = model.target
        labelled = [r for r in rows if r.get(target) not in (None, "")]
        if not labelled:
            raise ValidationFailed(f"None of the {len(rows)} evaluation tickets has a "
                                   f"{target!r} label.")
        metrics = evaluate_rows(model, labelled, target)
        # The eval contract names these five figures: they also stand at the top level.
        headline = {k: metrics[k] for k in ("accuracy", "macro_f1", "coverage_at_p90",
                                            "coverage_at_p95", "coverage_at_p99")}
        return {"model": name, "version": version, "target": target, **headline,
                "metrics": metrics}


def evaluate_rows(model: TriageModel, rows: Sequence[dict[str, Any]], target: str) -> dict[str, Any]:
    """Accuracy, macro-F1, top-3, coverage at precision .90/.95/.99 and at the model's own
    threshold, on labelled rows (labels unseen in training count as errors)."""
    truth = [str(r[target]) for r in rows]
    classes = list(model.classes_)
    proba = model.predict_proba(rows)
    pred = proba.argmax(axis=1)
    correct = np.array([classes[p] == t for p, t in zip(pred, truth, strict=True)])
    top3 = np.argsort(-proba, axis=1)[:, :3]
    in_top3 = np.array([t in {classes[j] for j in row} for row, t in zip(top3, truth, strict=True)])
    metrics: dict[str, Any] = {
        "accuracy": float(correct.mean()),
        "macro_f1": float(f1_score(truth, [classes[p] for p in pred], average="macro",
                                   zero_division=0)),
    }
    for target_p in REPORTED_PRECISIONS:
        metrics[f"coverage_at_p{round(target_p * 100)}"] = \
            coverage_at_precision(proba.max(axis=1), correct, target_p)[0]
    metrics["top3_accuracy"] = float(in_top3.mean())
    abstain = model.threshold_.abstain(proba)
    oos = model.out_of_scope(rows)
    if oos is not None:
        abstain = abstain | oos
    kept = ~abstain
    metrics["coverage"] = float(kept.mean())
    metrics["precision_when_answering"] = float(correct[kept].mean()) if kept.any() else 0.0
    metrics["baseline_most_frequent"] = Counter(truth).most_common(1)[0][1] / len(truth)
    metrics["rows"] = len(rows)
    return metrics


def _training_facts(model: TriageModel, rare: list[str]) -> dict[str, Any]:
    """What training decided: the threshold, the precision target in force, how the
    validation part was drawn and what it answered, the text setting chosen there (with each
    candidate's validation accuracy), and the classes too rare to evaluate (in training
    only, so no figure covers them)."""
    th = model.threshold_
    return {"threshold": round(float(th.threshold_), 6),
            "precision_target": round(float(th.precision_target_), 4),
            "validation_coverage": th.coverage_, "validation_precision": th.precision_,
            "validation_split": model.validation_split_,
            "text_setting": model.text_setting_, "setting_accuracy": model.selection_,
            **{f"validation_{k}": v for k, v in model.validation_.items()},
            "too_rare_to_evaluate": len(rare), "too_rare_classes": rare,
            "too_rare_min_tickets": MIN_EVAL_TICKETS}


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit_and_measure` made: the split's two parts, its kind, the metrics."""

    train_rows: list[dict[str, Any]]
    test_rows: list[dict[str, Any]]
    split: str
    metrics: dict[str, Any]


def fit_and_measure(model: TriageModel, name: str, rows: list[dict[str, Any]],
                    target: str) -> Fitted:
    """Split, fit and evaluate: the one path of training and of a rebuild, so both measure
    alike (``train_seconds`` is the only figure that may differ between two runs)."""
    train_rows, test_rows, split = _split(rows, target)
    started = time.perf_counter()
    _fit(model, name, train_rows, target)
    seconds = time.perf_counter() - started
    rare = sorted(rare_labels([r[target] for r in rows]))
    metrics = {**evaluate_rows(model, test_rows, target), **_training_facts(model, rare),
               "train_seconds": round(seconds, 2)}
    return Fitted(train_rows, test_rows, split, metrics)


def _check_options(target: str, kind: str) -> None:
    if target not in LABELS:
        raise ValidationFailed(f"The '--target' must be one of {', '.join(LABELS)}. "
                               f"Got {target!r} instead.")
    if kind not in ("auto", "text", "fields"):
        raise ValidationFailed(f"The '--kind' must be auto, text or fields. Got {kind!r} "
                               "instead.")


def _check_labels(name: str, target: str, rows: Sequence[dict[str, Any]]) -> None:
    """Refuse data no model can be trained and tested on, saying what to add."""
    counts = Counter(str(r[target]) for r in rows)
    if len(counts) < 2:
        raise ValidationFailed(
            f"Training {name!r} needs at least two distinct values of {target!r}; the data "
            f"has {len(rows)} labelled ticket(s) and {len(counts)} value(s). Add tickets "
            f"labelled with other values (or check the file's {target!r} column).")
    if sum(n for n in counts.values() if n >= MIN_EVAL_TICKETS) < 2:
        raise ValidationFailed(
            f"Training {name!r} needs tickets to test the model on, but no value of "
            f"{target!r} has {MIN_EVAL_TICKETS} or more tickets ({len(rows)} labelled "
            f"tickets, {len(counts)} values). Add labelled tickets: at least "
            f"{MIN_EVAL_TICKETS} for the values to evaluate.")


def _fit(model: TriageModel, name: str, rows: list[dict[str, Any]], target: str) -> None:
    """Fit, turning an estimator's refusal (e.g. no usable text) into one line with a remedy."""
    try:
        model.fit(rows, [r[target] for r in rows])
    except ValueError as err:
        cause = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValidationFailed(
            f"Training {name!r} ({model.kind} model, {len(rows)} tickets) failed: {cause}. "
            "Check that the tickets carry text (or open-time fields for '--kind fields') "
            "and a varied '--target' label.") from None


def _choose_kind(rows: Sequence[dict[str, Any]]) -> str:
    with_text = sum(1 for r in rows if (r.get("text") or "").strip())
    return "text" if with_text >= 0.5 * len(rows) else "fields"


def _split(rows: list[dict[str, Any]], target: str) -> tuple[list[dict[str, Any]],
                                                             list[dict[str, Any]], str]:
    """Time-based when tickets carry real opening times (the last 20% opened are the test
    set), else stratified random with a fixed seed; classes too rare to evaluate stay whole
    in the training part."""
    kept, held, kind = holdout_split(rows, [r[target] for r in rows], TEST_FRACTION, seed=0)
    return [rows[i] for i in kept], [rows[i] for i in held], kind


def rows_from_items(items: Iterable[Any], privacy: Privacy | None = None,
                    batch: int = 2000) -> list[dict[str, Any]]:
    """Snapshot-shaped rows straight from an importer's records, pseudonymised as ingestion
    would but without storing anything (evaluation data must not enter the tenant's log)."""
    from datetime import UTC, datetime

    def drafts() -> Iterable[EventDraft]:
        pending: list[EventDraft] = []
        for item in items:
            if not isinstance(item, Parsed):
                continue
            pending.extend(d for d in item.drafts if validate_draft(item.record, d) is None)
            if len(pending) >= batch:
                yield from _protected(pending, privacy)
                pending = []
        yield from _protected(pending, privacy)

    now = datetime.now(UTC)
    events = (_as_event(d, seq, now) for seq, d in enumerate(drafts(), start=1))
    return [to_record(row) for row in fold_tickets(events).values()]


def _protected(drafts: list[EventDraft], privacy: Privacy | None) -> list[EventDraft]:
    if privacy is not None and drafts:
        privacy.pseudonymise(drafts)
    return drafts


def _as_event(draft: EventDraft, seq: int, now: Any) -> Event:
    return Event("eval", seq, draft.id or f"eval-{seq}", draft.type, draft.occurred_at, now,
                 draft.payload, draft.idempotency_key, "", draft.ticket_id, draft.subject)


def _bump_pointer(workspace_path: Path, tenant_id: str, name: str) -> None:
    """Serving processes watch this file's mtime to hot-swap at once on promotion."""
    pointer = serving_pointer(workspace_path, tenant_id, name)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    fresh = pointer.with_name(f"{pointer.name}.{os.getpid()}.tmp")
    fresh.write_text(str(time.time_ns()))
    fresh.replace(pointer)  # atomic: a reader sees the old stamp or the new one, never half


def serving_pointer(workspace_path: Path, tenant_id: str, name: str) -> Path:
    from supportops.ml.registry import check_model_name

    return workspace_path / "artifacts" / "serving" / tenant_id / f"{check_model_name(name)}.stamp"
