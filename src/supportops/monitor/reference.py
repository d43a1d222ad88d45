"""Reference statistics kept with each model version, computed when it is trained.

What a window of traffic is compared with: the label mix, the confidence distribution and a
calibration map (from the held-out test rows, which no fit saw), per-field categorical
distributions over at least k subjects, and an embedding reference as *event ids* into the
embedding cache (the vectors stay in ``event_embeddings``, where erasure purges them; no
vector goes into an artefact). Stored in ``model_references`` and, without the event ids, in
the model's MLflow run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import delete, insert, select

from supportops.governance.context import Context
from supportops.ml import embedding_cache
from supportops.ml.embeddings import Encoder
from supportops.ml.tables import event_embeddings
from supportops.monitor import stats
from supportops.monitor.tables import model_references
from supportops.storage import Database

#: At most this many training tickets' embeddings stand for the reference inputs.
REFERENCE_SAMPLE = 1000
ABSTAINED = "(abstained)"


def build(model: Any, train_rows: Sequence[dict[str, Any]], test_rows: Sequence[dict[str, Any]],
          target: str, encoder_name: str | None) -> dict[str, Any]:
    """The reference statistics of a fitted ``TriageModel`` (see the module docstring)."""
    rows = [*train_rows, *test_rows]
    subjects = [r.get("subject") for r in rows]
    out: dict[str, Any] = {
        "target": target, "k": stats.K_SUBJECTS, "rows": len(rows),
        "labels": stats.k_distribution([r.get(target) for r in rows], subjects),
        "fields": _field_distributions(rows, target),
        **_held_out(model, test_rows, target),
        "embedding": {"encoder": encoder_name, "event_ids": _sample_ids(rows)},
    }
    return out


def _held_out(model: Any, rows: Sequence[dict[str, Any]], target: str) -> dict[str, Any]:
    """Confidence histogram, calibration, prediction mix and abstention on held-out rows."""
    if not rows:
        return {"calibration": None, "confidence_histogram": [], "predictions": {},
                "abstention_rate": None, "held_out": 0}
    proba = model.predict_proba(rows)
    conf = proba.max(axis=1)
    classes = list(model.classes_)
    predicted = [str(classes[i]) for i in proba.argmax(axis=1)]
    correct = [p == str(r.get(target)) for p, r in zip(predicted, rows, strict=True)]
    abstain = model.threshold_.abstain(proba)
    oos = model.out_of_scope(rows)
    if oos is not None:
        abstain = abstain | oos
    mix = [ABSTAINED if a else p for p, a in zip(predicted, abstain, strict=True)]
    return {"calibration": stats.fit_calibration(conf, correct),
            "confidence_histogram": stats.histogram(conf),
            "predictions": stats.k_distribution(mix, [r.get("subject") for r in rows]),
            "abstention_rate": round(float(np.mean(abstain)), 6),
            "held_out_accuracy": round(float(np.mean(correct)), 6), "held_out": len(rows)}


def _field_distributions(rows: Sequence[dict[str, Any]], target: str) -> dict[str, Any]:
    """Per open-time categorical field (channel, priority, ...), its k-subject distribution."""
    subjects = [r.get("subject") for r in rows]
    fields: dict[str, list[str | None]] = {}
    for i, row in enumerate(rows):
        raw = row.get("open_fields") or "{}"
        values = orjson.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
        for key, value in values.items():
            if key != target and isinstance(value, str):
                fields.setdefault(key, [None] * len(rows))[i] = value
    kept = {k: stats.k_distribution(v, subjects) for k, v in fields.items()}
    return {k: d for k, d in kept.items() if len(d) > 1 or (d and stats.OTHER not in d)}


def _sample_ids(rows: Sequence[dict[str, Any]]) -> list[str]:
    ids = [str(r["text_event_id"]) for r in rows if r.get("text_event_id")]
    if len(ids) <= REFERENCE_SAMPLE:
        return ids
    pick = np.random.default_rng(0).choice(len(ids), REFERENCE_SAMPLE, replace=False)
    return [ids[i] for i in sorted(pick)]


def warm_embeddings(db: Database, ctx: Context, encoder: Encoder,
                    rows: Sequence[dict[str, Any]], event_ids: Sequence[str]) -> None:
    """Make sure the reference events' vectors are in the embedding cache table (texts read
    by kind, as training stores them: one vector per event, whichever room computed it)."""
    from supportops.ml.estimators import pseudonyms_by_kind

    wanted = set(event_ids)
    chosen = [r for r in rows if r.get("text_event_id") in wanted]
    embedding_cache.warm(db, ctx, encoder, [r["text_event_id"] for r in chosen],
                         [pseudonyms_by_kind(r["text"] or "") for r in chosen],
                         [r.get("subject") for r in chosen])


def save(db: Database, ctx: Context, name: str, version: str, reference: dict[str, Any]) -> None:
    with db.begin(ctx.tenant_id) as conn:
        conn.execute(delete(model_references).where(
            model_references.c.tenant_id == ctx.tenant_id, model_references.c.name == name,
            model_references.c.version == version))
        conn.execute(insert(model_references).values(
            tenant_id=ctx.tenant_id, name=name, version=version, created_at=datetime.now(UTC),
            stats=orjson.dumps(reference).decode()))


def load(db: Database, ctx: Context, name: str, version: str) -> dict[str, Any] | None:
    with db.begin(ctx.tenant_id) as conn:
        raw = conn.execute(select(model_references.c.stats).where(
            model_references.c.tenant_id == ctx.tenant_id, model_references.c.name == name,
            model_references.c.version == version)).scalar()
    return orjson.loads(raw) if raw else None


def vectors(db: Database, ctx: Context, encoder_name: str,
            event_ids: Sequence[str]) -> npt.NDArray[np.float32]:
    """The stored vectors of the reference events that are still there (erased ones are not)."""
    out: list[npt.NDArray[np.float32]] = []
    with db.begin(ctx.tenant_id) as conn:
        for i in range(0, len(event_ids), 2000):
            for (blob,) in conn.execute(select(event_embeddings.c.vector).where(
                    event_embeddings.c.tenant_id == ctx.tenant_id,
                    event_embeddings.c.encoder == encoder_name,
                    event_embeddings.c.event_id.in_(list(event_ids[i : i + 2000])))):
                out.append(np.frombuffer(blob, dtype=np.float32))
    return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)


def for_mlflow(reference: dict[str, Any]) -> dict[str, Any]:
    """What the MLflow run keeps: the aggregates, and how many events the embedding
    reference names (the ids stay in our table, beside the rows erasure purges)."""
    embedding = reference.get("embedding") or {}
    return {**reference, "embedding": {"encoder": embedding.get("encoder"),
                                       "events": len(embedding.get("event_ids") or [])}}
