"""Models that forget: retrain every model version that an erasure flagged.

For each flagged version (lineage knows which): rebuild its snapshot without the erased data,
fit the same kind of model with the settings recorded in its run, register the new version,
and compare it with the old one on the same held-out rows (the new split's test part). The
aliases that pointed at the old version move to the new one when it is not significantly
worse (non-inferiority: a one-sided paired test on accuracy with a margin); otherwise the
alias is removed and ``predict`` says why. Then the old version's artefacts are deleted and
the registry keeps a tombstone. Everything is audited, and lineage links old -> new.
Running it again does nothing: replaced versions are not flagged any more.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from supportops.datasets.snapshots import rebuild_flagged, replacement_of
from supportops.errors import ValidationFailed
from supportops.governance import audit, lineage
from supportops.ml.registry import ALIASES, DatasetRef
from supportops.triage.model import TriageModel
from supportops.triage.service import (
    NO_ENCODER,
    TRAIN_ROLES,
    TriageService,
    _bump_pointer,
    _split,
    evaluate_rows,
)

#: Largest accuracy loss (absolute) that still counts as "not worse".
MARGIN = 0.02
#: Significance level of the one-sided test.
ALPHA = 0.05


@dataclass(frozen=True)
class NonInferiority:
    """Paired one-sided z-test of H0: acc(new) - acc(old) <= -margin on the same rows."""

    rows: int
    accuracy_old: float
    accuracy_new: float
    difference: float
    std_error: float
    margin: float
    alpha: float
    z: float
    p_value: float
    passed: bool
    test: str = "paired one-sided z-test on accuracy difference (non-inferiority)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def non_inferiority(old_correct: npt.NDArray[np.bool_], new_correct: npt.NDArray[np.bool_],
                    margin: float = MARGIN, alpha: float = ALPHA) -> NonInferiority:
    """The new model passes when H0 (it is worse by ``margin`` or more) is rejected at
    ``alpha``. With no disagreement (zero variance) the observed difference decides."""
    from scipy.stats import norm

    n = len(old_correct)
    if n == 0:
        return NonInferiority(0, 0.0, 0.0, 0.0, 0.0, margin, alpha, 0.0, 1.0, False)
    diff = new_correct.astype(float) - old_correct.astype(float)
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    if se > 0:
        z = (mean + margin) / se
        p = float(norm.sf(z))
    else:
        z = math.inf if mean + margin > 0 else -math.inf
        p = 0.0 if mean + margin > 0 else 1.0
    return NonInferiority(n, float(old_correct.mean()), float(new_correct.mean()), mean, se,
                          margin, alpha, z, p, p < alpha)


def _correct(model: TriageModel, rows: list[dict[str, Any]], target: str) -> npt.NDArray[np.bool_]:
    if not rows:
        return np.zeros(0, dtype=bool)
    classes = list(model.classes_)
    pred = model.predict_proba(rows).argmax(axis=1)
    return np.array([classes[p] == str(r[target]) for p, r in zip(pred, rows, strict=True)])


def _encoder_kind(recorded: str | None) -> str:
    """The encoder kind from the recorded encoder name (``all-MiniLM-L6-v2@<digest>/static``)."""
    return NO_ENCODER if not recorded or recorded == NO_ENCODER else recorded.rsplit("/", 1)[-1]


def retrain_flagged(service: TriageService, margin: float = MARGIN,
                    alpha: float = ALPHA) -> dict[str, Any]:
    """Rebuild flagged snapshots, retrain flagged versions, move or remove their aliases,
    delete their artefacts. Returns ``{"snapshots": [...], "models": [...]}``."""
    service.ctx.require(*TRAIN_ROLES, action="retrain models")
    if not 0.0 <= margin <= 1.0 or not 0.0 < alpha < 1.0:
        raise ValidationFailed(f"The non-inferiority margin must lie in [0, 1] and alpha in "
                               f"(0, 1). Got margin={margin}, alpha={alpha}.")
    snapshots = rebuild_flagged(service.db, service.ctx, service.workspace_path / "artifacts")
    with service.db.begin(service.ctx.tenant_id) as conn:
        flagged = lineage.flagged_models(conn, service.ctx)
    models = [_retrain_one(service, name, version, margin, alpha) for name, version in flagged]
    return {"snapshots": snapshots, "models": models, "count": len(models)}


def _retrain_one(service: TriageService, name: str, version: str, margin: float,
                 alpha: float) -> dict[str, Any]:
    tenant = service.ctx.tenant_id
    registry = service.registry
    old = registry.version(tenant, name, version)
    params = old["params"]
    target = params["target"]
    snap = replacement_of(service.db, service.ctx, str(old["snapshot"]))
    rows = snap.read().to_pylist()
    train_rows, test_rows, split = _split(rows, target)
    kind = params.get("kind", "text")
    encoder = service.encoder(_encoder_kind(params.get("encoder"))) if kind == "text" else None
    model = TriageModel(kind, encoder, target=target,
                        precision=float(params.get("precision_target", 0.95)))
    model.fit(train_rows, [r[target] for r in train_rows])
    metrics = evaluate_rows(model, test_rows, target)
    check = _compare(service, name, version, model, test_rows, target, margin, alpha)
    new_params = {**params, "split": split, "train_rows": len(train_rows),
                  "test_rows": len(test_rows), "retrained_from": version}
    new = registry.log_training(
        tenant, name, model=model, params=new_params,
        metrics={**metrics, "noninferiority_p_value": check.p_value,
                 "noninferiority_accuracy_old": check.accuracy_old},
        dataset=DatasetRef(snap.id, snap.digest, snap.log_position, snap.row_count,
                           str(snap.path), snap.exclusions),
        tags={"supportops.task": "triage", "supportops.target": target,
              "supportops.replaces": version,
              "supportops.noninferiority": "passed" if check.passed else "failed"})
    moved, removed = _move_aliases(service, name, version, new, check)
    reason = (f"held erased data; artefacts deleted {datetime.now(UTC).isoformat()} by "
              f"retrain-flagged; replaced by version {new}")
    deleted = registry.delete_artifacts(tenant, name, version, reason)
    result = {"model": name, "old_version": version, "new_version": new,
              "old_snapshot": old["snapshot"], "new_snapshot": snap.id,
              "non_inferiority": check.as_dict(), "aliases_moved": moved,
              "aliases_removed": removed, "artefacts_deleted": len(deleted)}
    with service.db.begin(tenant) as conn:
        lineage.record_model(conn, service.ctx, name, new, snap.id)
        lineage.record_replacement(conn, service.ctx, name, version, new)
        for alias in moved:
            lineage.record_deployment(conn, service.ctx, name, new, alias)
        audit.record(conn, service.ctx, "model.retrain", details=result)
    _bump_pointer(service.workspace_path, tenant, name)
    return result


def _compare(service: TriageService, name: str, version: str, model: TriageModel,
             rows: list[dict[str, Any]], target: str, margin: float,
             alpha: float) -> NonInferiority:
    """The old version against the new one on the new held-out rows (the old one is loaded
    for this last time, before its artefacts go); a version whose artefacts are gone fails."""
    from supportops.errors import NotFound

    try:
        old_model, _ = service.registry.load(service.ctx.tenant_id, name, version)
    except NotFound:
        return non_inferiority(np.ones(len(rows), dtype=bool), np.zeros(len(rows), dtype=bool),
                               margin, alpha)
    return non_inferiority(_correct(old_model, rows, target), _correct(model, rows, target),
                           margin, alpha)


def _move_aliases(service: TriageService, name: str, old: str, new: str,
                  check: NonInferiority) -> tuple[list[str], list[str]]:
    """Aliases on ``old`` go to ``new`` when it passed, else they are removed (with why)."""
    tenant = service.ctx.tenant_id
    registry = service.registry
    moved: list[str] = []
    removed: list[str] = []
    for alias in ALIASES:
        if registry.alias(tenant, name, alias) != old:
            continue
        if check.passed:
            registry.set_alias(tenant, name, alias, new)
            moved.append(alias)
        else:
            registry.remove_alias(tenant, name, alias, (
                f"version {old} held erased data and was retired; its retrained replacement, "
                f"version {new}, failed the non-inferiority check (accuracy "
                f"{check.accuracy_new:.3f} vs {check.accuracy_old:.3f} on {check.rows} held-out "
                f"rows, margin {check.margin}, p={check.p_value:.3f}); choose a version with "
                f"'supportops models promote {name} VERSION'."))
            removed.append(alias)
    history = registry.champion_history(tenant, name)
    if old in history:
        swapped = [new if v == old and check.passed else v for v in history]
        registry.set_champion_history(tenant, name, [v for v in swapped if v != old])
    return moved, removed
