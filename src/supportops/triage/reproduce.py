"""Rebuild a model version from its lineage, and the card that says what a version is.

``reproduce``: a version's run recorded its snapshot (id, digest, log position, exclusions),
the estimator's class and parameters, the digest of its learned state, the encoder's and the
detector's digests, the libraries and the code (see ``ml.registry.lineage_record``). The
rebuild reads the snapshot (whose digest ``Snapshot.read`` checks), fits the same estimator
through the same path as training (``service.fit_and_measure``) and compares: every recorded
metric but the training time, and the state digest. Nothing is registered, and nothing of
the workspace is written: an encoder whose built weights differ from the recorded ones is
built anew in a scratch folder that goes away. A version that holds erased data is refused:
rebuilding it would bring the erased data back; its retrained replacement is named.

Training is deterministic: seeds are fixed, rows come in ticket-id order, every tie is
broken by sorted order, BLAS runs on one thread while fitting, the encoder runs each text
alone, and pseudonym tokens are read by kind. So on one machine a rebuild matches exactly,
and two fresh workspaces fed the same file give the same metrics and state digest (the
snapshot digests differ: they cover event ids, ingestion times and the tenant's tokens).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from supportops.datasets.snapshots import get_snapshot
from supportops.errors import NotFound, ValidationFailed
from supportops.governance import lineage
from supportops.ml.embeddings import Encoder
from supportops.ml.registry import DatasetRef, lineage_record
from supportops.triage.model import TriageModel
from supportops.triage.provenance import provenance
from supportops.triage.service import NO_ENCODER, TRAIN_ROLES, TriageService, fit_and_measure

#: Metrics that measure the machine, not the model.
UNCOMPARED = frozenset({"train_seconds"})
#: Parts of the lineage record that describe the environment: a change is reported, and
#: decides nothing by itself (the metrics and the state digest do).
ENVIRONMENT = ("encoder", "detector", "libraries", "code")
#: The card's headline figures (held-out tickets) and abstention figures.
HEADLINE = ("rows", "accuracy", "macro_f1", "top3_accuracy", "coverage_at_p90",
            "coverage_at_p95", "coverage_at_p99", "baseline_most_frequent")
ABSTENTION = ("threshold", "precision_target", "coverage", "precision_when_answering",
              "validation_coverage", "validation_precision")
#: A class this weak on the held-out tickets (recall), with this many of them, is named.
WEAK_RECALL, WEAK_SUPPORT = 0.8, 5


def reproduce(service: TriageService, name: str, version: str) -> dict[str, Any]:
    """``{"model", "version", "match", "metrics", "differences", "state_digest",
    "environment", "snapshot"}``: ``match`` when no recorded figure and not the state
    digest differ (``differences`` lists each one that does)."""
    service.ctx.require(*TRAIN_ROLES, action="reproduce models")
    refuse_erased(service, name, version)
    tenant = service.ctx.tenant_id
    recorded_metrics = service.registry.version(tenant, name, version)["metrics"]
    record = service.registry.lineage(tenant, name, version)
    if record is None:
        raise ValidationFailed(
            f"Version {version} of model {name!r} was trained before runs recorded their "
            "lineage, so it cannot be rebuilt; train it again to get a reproducible version.")
    snap = get_snapshot(service.db, service.ctx, record["snapshot"]["id"])
    rows = snap.read().to_pylist()
    with tempfile.TemporaryDirectory(prefix="supportops-reproduce-") as scratch:
        model = _estimator(service, record, Path(scratch))
        fitted = fit_and_measure(model, name, rows, model.target)
        rebuilt = lineage_record(model, DatasetRef(
            snap.id, snap.digest, snap.log_position, snap.row_count, str(snap.path),
            snap.exclusions), provenance(record.get("detector") is not None))
    metrics = {k: float(v) for k, v in fitted.metrics.items()
               if isinstance(v, int | float) and k not in UNCOMPARED}
    differences = (_metric_differences(recorded_metrics, metrics)
                   + _differences(record, rebuilt, ("snapshot", "estimator", "state_digest")))
    return {"model": name, "version": str(version), "match": not differences,
            "metrics": metrics, "differences": differences,
            "state_digest": rebuilt["state_digest"], "snapshot": snap.id,
            "environment": _differences(record, rebuilt, ENVIRONMENT)}


def refuse_erased(service: TriageService, name: str, version: str) -> None:
    """One line naming the retrained replacement of a version that holds erased data."""
    flag = lineage.erased_flag(service.db, service.ctx, name, version)
    if flag is None:
        flag = service.registry.version(service.ctx.tenant_id, name, version)["tombstone"]
    if flag is None:
        return
    try:
        replaced_by = lineage.for_model(service.db, service.ctx, name, version)["replaced_by"]
    except NotFound:  # a tombstone without lineage
        replaced_by = None
    then = (f"its retrained replacement is version {replaced_by.rsplit('@', 1)[-1]}: "
            f"reproduce that one" if replaced_by else
            "it has no replacement yet: run 'supportops models retrain-flagged' first")
    raise ValidationFailed(f"Version {version} of model {name!r} holds erased data and is not "
                           f"rebuilt (that would bring the erased data back); {then}.")


def _estimator(service: TriageService, record: dict[str, Any], scratch: Path) -> TriageModel:
    """The recorded estimator, unfitted, with the recorded encoder."""
    estimator = record["estimator"]
    expected = f"{TriageModel.__module__}.{TriageModel.__qualname__}"
    if estimator["class"] != expected:
        raise ValidationFailed(f"The run recorded a {estimator['class']}; only {expected} "
                               "versions can be rebuilt.")
    params = dict(estimator["params"])
    params.pop("encoder", None)
    return TriageModel(**params, encoder=_encoder(service, record.get("encoder"), scratch))


def _encoder(service: TriageService, recorded: dict[str, Any] | None,
             scratch: Path) -> Encoder | None:
    """The workspace's encoder when its weights are the recorded ones, else one built in
    ``scratch`` (the workspace's own built weights are left as they are)."""
    if recorded is None:
        return None
    kind = str(recorded["name"]).rsplit("/", 1)[-1]
    encoder = service.encoder(kind)
    if encoder is None or encoder.digest() == recorded["digest"]:
        return encoder
    return Encoder(kind, scratch / "encoders")  # type: ignore[arg-type]


def _metric_differences(recorded: dict[str, float],
                        rebuilt: dict[str, float]) -> list[dict[str, Any]]:
    """Each figure both hold that differs. Only shared ones: a retrained version also
    recorded its comparison with the version it replaced, which no rebuild can measure
    again; but the accuracy must be among them."""
    keys = sorted((set(recorded) & set(rebuilt)) - UNCOMPARED)
    found = [{"field": f"metrics.{k}", "recorded": recorded[k], "rebuilt": rebuilt[k]}
             for k in keys if recorded[k] != rebuilt[k]]
    if "accuracy" not in keys:
        found.append({"field": "metrics.accuracy", "recorded": recorded.get("accuracy"),
                      "rebuilt": rebuilt.get("accuracy")})
    return found


def _differences(record: dict[str, Any], rebuilt: dict[str, Any],
                 parts: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each leaf of ``parts`` that differs, by dotted path."""
    out: list[dict[str, Any]] = []
    for part in parts:
        out += _leaf_differences(part, record.get(part), rebuilt.get(part))
    return out


def _leaf_differences(path: str, old: Any, new: Any) -> list[dict[str, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in _leaf_differences(f"{path}.{k}", old.get(k), new.get(k))]
    return [] if old == new else [{"field": path, "recorded": old, "rebuilt": new}]


def card(service: TriageService, name: str, version: str) -> dict[str, Any]:
    """The model card of ``version``: what it was trained on and without, how well it does
    per class, when it abstains, and what it cannot do (from what its run recorded)."""
    tenant = service.ctx.tenant_id
    info = service.registry.version(tenant, name, version)
    record = service.registry.lineage(tenant, name, version) or {}
    facts = service.registry.card_facts(tenant, name, version) if not info["tombstone"] \
        else None
    m, p = info["metrics"], info["params"]
    snapshot = record.get("snapshot") or {}
    return {
        "model": name, "version": str(version), "aliases": info["aliases"],
        "task": {"target": p.get("target"), "kind": p.get("kind"),
                 "encoder": p.get("encoder"), "text_setting": p.get("text_setting")},
        "data": {"snapshot": info["snapshot"], "digest": info["digest"],
                 "rows": snapshot.get("rows"), "log_position": snapshot.get("log_position"),
                 "train_rows": _int(p.get("train_rows")), "test_rows": _int(p.get("test_rows")),
                 "split": p.get("split")},
        "exclusions": snapshot.get("exclusions"),
        "metrics": {k: m.get(k) for k in HEADLINE},
        "metrics_by_class": None if facts is None else facts["by_class"],
        "abstention": {k: m.get(k) for k in ABSTENTION},
        "known_limits": known_limits(info, facts),
        "reproducibility": {"state_digest": record.get("state_digest"),
                            "code": record.get("code"),
                            "encoder": record.get("encoder"),
                            "detector": (record.get("detector") or {}).get("digest")},
        "erased_data": lineage.erased_flag(service.db, service.ctx, name, version)
        or info["tombstone"],
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def known_limits(info: dict[str, Any], facts: dict[str, Any] | None) -> list[str]:
    """What the figures say the model cannot do well, one sentence each."""
    m, p = info["metrics"], info["params"]
    limits = [_rare(p)] if p.get("too_rare_classes", "none") != "none" else []
    limits += _weak(facts)
    tests = int(m.get("rows") or 0)
    if tests:
        acc = float(m.get("accuracy") or 0.0)
        half = 1.96 * (acc * (1 - acc) / tests) ** 0.5
        limits.append(f"The figures rest on {tests} held-out tickets: accuracy "
                      f"{acc:.3f} +/- {half:.3f} (95% interval).")
    if p.get("split") == "stratified":
        limits.append("The tickets carry no real opening times, so the held-out part was "
                      "drawn at random, not the newest tickets: the figures may be "
                      "optimistic for the tickets that come next.")
    if p.get("encoder") in (None, NO_ENCODER):
        limits.append("No sentence encoder: no out-of-scope detection (a ticket unlike any "
                      "class is answered when confident), and paraphrases are matched by "
                      "their words only.")
    limits.append("Trained on pseudonymised text: names, places and numbers are read by "
                  "kind only (<PERSON>), so no class can depend on who a customer is.")
    return limits


def _rare(p: dict[str, Any]) -> str:
    names = str(p["too_rare_classes"]).split(",")
    return (f"{len(names)} value(s) had too few tickets to hold any out, so they are trained "
            f"on but never evaluated: {', '.join(names[:10])}"
            f"{' ...' if len(names) > 10 else ''}.")


def _weak(facts: dict[str, Any] | None) -> list[str]:
    if not facts:
        return ["Metrics by class are not available for this version (trained before cards "
                "were recorded, or its artefacts were deleted)."]
    weak = sorted((v["recall"], k) for k, v in facts["by_class"].items()
                  if v["support"] >= WEAK_SUPPORT and v["recall"] < WEAK_RECALL)
    if not weak:
        return []
    named = ", ".join(f"{k} (recall {r:.2f})" for r, k in weak[:5])
    return [f"{len(weak)} class(es) with {WEAK_SUPPORT}+ held-out tickets are found less than "
            f"{WEAK_RECALL:.0%} of the time; weakest: {named}."]
