"""Lineage: event range and subjects -> dataset snapshot -> model version -> deployment.

Higher rooms write edges as they build things (in their own transactions)::

    record_snapshot(conn, ctx, "snap-1", digest, log_position=812, subjects={"<CUSTOMER_..>"},
                    excluded=["<CUSTOMER_..>"])
    record_model(conn, ctx, "triage", "3", "snap-1")
    record_deployment(conn, ctx, "triage", "3", "champion")

and erasure asks :func:`flag_subject` which snapshots and models held a subject. Subjects are
keyed references (``Keyring.subject_ref``; tokens in rows written before), so lineage never
holds an original identifier, nor, once a subject's key is gone, anything that names it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from supportops.errors import NotFound
from supportops.governance.context import Context
from supportops.governance.tables import (
    lineage_deployments,
    lineage_models,
    lineage_pending,
    lineage_snapshot_subjects,
    lineage_snapshots,
)
from supportops.storage import Database

_CHUNK = 5000


@dataclass(frozen=True)
class Flagged:
    """What erasure of one subject touched in lineage."""

    snapshots: list[str]
    models: list[str]
    pending: list[dict[str, str]]


def _now() -> datetime:
    return datetime.now(UTC)


def record_snapshot(
    conn: Connection, ctx: Context, snapshot_id: str, digest: str, log_position: int,
    subjects: Iterable[str], excluded: Iterable[str] = (), first_seq: int | None = None,
) -> None:
    """A dataset snapshot built from the log up to ``log_position`` holding ``subjects``."""
    members = sorted(set(subjects))
    conn.execute(insert(lineage_snapshots).values(
        tenant_id=ctx.tenant_id, snapshot_id=snapshot_id, digest=digest,
        log_position=log_position, first_seq=first_seq,
        excluded=orjson.dumps(sorted(set(excluded))).decode(), subject_count=len(members),
        state="current", created_at=_now()))
    rows = [{"tenant_id": ctx.tenant_id, "snapshot_id": snapshot_id, "subject": s}
            for s in members]
    for i in range(0, len(rows), _CHUNK):
        conn.execute(insert(lineage_snapshot_subjects), rows[i : i + _CHUNK])


def record_model(conn: Connection, ctx: Context, model_name: str, version: str,
                 snapshot_id: str) -> None:
    """A model version trained on ``snapshot_id``."""
    conn.execute(insert(lineage_models).values(
        tenant_id=ctx.tenant_id, model_name=model_name, version=str(version),
        snapshot_id=snapshot_id, contains_erased_data=False, created_at=_now()))


def record_deployment(conn: Connection, ctx: Context, model_name: str, version: str,
                      target: str) -> None:
    """A model version deployed to ``target`` (an alias such as ``champion``, an endpoint);
    deploying it there again refreshes the time."""
    conn.execute(delete(lineage_deployments).where(
        lineage_deployments.c.tenant_id == ctx.tenant_id,
        lineage_deployments.c.model_name == model_name,
        lineage_deployments.c.version == str(version), lineage_deployments.c.target == target))
    conn.execute(insert(lineage_deployments).values(
        tenant_id=ctx.tenant_id, model_name=model_name, version=str(version), target=target,
        deployed_at=_now()))


#: A done ``lineage_pending`` row of this action links a flagged model version (target) to
#: the version retrained without the erased data (reason): old -> erasure -> new.
RETRAINED = "retrained"


def record_replacement(conn: Connection, ctx: Context, model_name: str, old: str,
                       new: str) -> None:
    """``model_name@old`` (flagged by an erasure) was retrained as ``model_name@new``; the
    open ``retrain_model`` action of ``old``, if any, is done."""
    now = _now()
    target = f"{model_name}@{old}"
    conn.execute(insert(lineage_pending).values(
        tenant_id=ctx.tenant_id, id=str(uuid.uuid4()), action=RETRAINED, target=target,
        reason=f"{model_name}@{new}", created_at=now, done_at=now))
    conn.execute(update(lineage_pending).where(
        lineage_pending.c.tenant_id == ctx.tenant_id, lineage_pending.c.action == "retrain_model",
        lineage_pending.c.target == target, lineage_pending.c.done_at.is_(None))
        .values(done_at=now))


def flagged_models(conn: Connection, ctx: Context) -> list[tuple[str, str]]:
    """Model versions holding erased data that were not retrained yet, oldest first."""
    done = select(lineage_pending.c.target).where(
        lineage_pending.c.tenant_id == ctx.tenant_id, lineage_pending.c.action == RETRAINED)
    rows = conn.execute(select(lineage_models.c.model_name, lineage_models.c.version).where(
        lineage_models.c.tenant_id == ctx.tenant_id,
        lineage_models.c.contains_erased_data.is_(True))
        .order_by(lineage_models.c.created_at)).all()
    replaced = set(conn.execute(done).scalars())
    return [(r.model_name, r.version) for r in rows
            if f"{r.model_name}@{r.version}" not in replaced]


def erased_flag(db: Database, ctx: Context, model_name: str, version: str) -> str | None:
    """Why ``model_name@version`` holds erased data, or None when it does not (or has no
    lineage)."""
    with db.begin(ctx.tenant_id) as conn:
        row = conn.execute(select(lineage_models.c.contains_erased_data,
                                  lineage_models.c.flag_reason).where(
            lineage_models.c.tenant_id == ctx.tenant_id,
            lineage_models.c.model_name == model_name,
            lineage_models.c.version == str(version))).first()
    if row is None or not row.contains_erased_data:
        return None
    return str(row.flag_reason or "erasure")


def _replacements(conn: Connection, ctx: Context, model: str) -> dict[str, str | None]:
    """What replaced ``model`` (``name@version``) and what it replaced."""
    rows = conn.execute(select(lineage_pending.c.target, lineage_pending.c.reason).where(
        lineage_pending.c.tenant_id == ctx.tenant_id, lineage_pending.c.action == RETRAINED,
        (lineage_pending.c.target == model) | (lineage_pending.c.reason == model))).all()
    return {"replaced_by": next((r.reason for r in rows if r.target == model), None),
            "replaces": next((r.target for r in rows if r.reason == model), None)}


def set_snapshot_state(conn: Connection, ctx: Context, snapshot_id: str, state: str,
                       reason: str | None = None) -> None:
    """``current``, ``rebuild`` (erasure asked for it) or ``deleted``."""
    conn.execute(update(lineage_snapshots).where(
        lineage_snapshots.c.tenant_id == ctx.tenant_id,
        lineage_snapshots.c.snapshot_id == snapshot_id).values(state=state, state_reason=reason))


def flag_subject(conn: Connection, ctx: Context, subject: str | Sequence[str], reason: str,
                 retrain: bool = True) -> Flagged:
    """Mark every snapshot holding ``subject`` (any of its names) for rebuild and every model
    trained on one as ``contains_erased_data``; schedule the follow-up work as pending."""
    names = [subject] if isinstance(subject, str) else list(subject)
    snaps = sorted(set(conn.execute(select(lineage_snapshot_subjects.c.snapshot_id).where(
        lineage_snapshot_subjects.c.tenant_id == ctx.tenant_id,
        lineage_snapshot_subjects.c.subject.in_(names))).scalars()))
    pending: list[dict[str, str]] = []
    for snap in snaps:
        set_snapshot_state(conn, ctx, snap, "rebuild", reason)
        pending.append(_schedule(conn, ctx, "rebuild_snapshot", snap, reason))
    models = _models_of(conn, ctx, snaps)
    for name, version in models:
        conn.execute(update(lineage_models).where(
            lineage_models.c.tenant_id == ctx.tenant_id, lineage_models.c.model_name == name,
            lineage_models.c.version == version).values(contains_erased_data=True,
                                                        flag_reason=reason))
        if retrain:
            pending.append(_schedule(conn, ctx, "retrain_model", f"{name}@{version}", reason))
    return Flagged(sorted(snaps), [f"{n}@{v}" for n, v in models], pending)


def forget_subject(conn: Connection, ctx: Context, subject: str, ref: str) -> int:
    """After :func:`flag_subject` at erasure: the memberships of ``subject`` (a token, in rows
    written before references) go and exclusion lists name it by ``ref``, so lineage keeps no
    token of an erased subject (the flags, the erasure report and its audit entry keep the
    trace). Returns the membership rows removed."""
    removed = conn.execute(delete(lineage_snapshot_subjects).where(
        lineage_snapshot_subjects.c.tenant_id == ctx.tenant_id,
        lineage_snapshot_subjects.c.subject == subject)).rowcount or 0
    rows = conn.execute(select(lineage_snapshots.c.snapshot_id, lineage_snapshots.c.excluded)
                        .where(lineage_snapshots.c.tenant_id == ctx.tenant_id,
                               lineage_snapshots.c.excluded.contains(subject, autoescape=True))).all()
    for row in rows:
        names = sorted({ref if s == subject else s for s in orjson.loads(row.excluded)})
        conn.execute(update(lineage_snapshots).where(
            lineage_snapshots.c.tenant_id == ctx.tenant_id,
            lineage_snapshots.c.snapshot_id == row.snapshot_id)
            .values(excluded=orjson.dumps(names).decode()))
    return int(removed)


def _models_of(conn: Connection, ctx: Context, snaps: list[str]) -> list[tuple[str, str]]:
    if not snaps:
        return []
    rows = conn.execute(select(lineage_models.c.model_name, lineage_models.c.version).where(
        lineage_models.c.tenant_id == ctx.tenant_id, lineage_models.c.snapshot_id.in_(snaps))
        .order_by(lineage_models.c.model_name, lineage_models.c.version)).all()
    return [(r.model_name, r.version) for r in rows]


def _schedule(conn: Connection, ctx: Context, action: str, target: str,
              reason: str) -> dict[str, str]:
    open_row = conn.execute(select(lineage_pending.c.id).where(
        lineage_pending.c.tenant_id == ctx.tenant_id, lineage_pending.c.action == action,
        lineage_pending.c.target == target, lineage_pending.c.done_at.is_(None))).scalar()
    action_id = open_row or str(uuid.uuid4())
    if open_row is None:
        conn.execute(insert(lineage_pending).values(
            tenant_id=ctx.tenant_id, id=action_id, action=action, target=target, reason=reason,
            created_at=_now()))
    return {"id": action_id, "action": action, "target": target, "status": "pending"}


def pending(db: Database, ctx: Context) -> list[dict[str, Any]]:
    """Open follow-up work (the ML room rebuilds/retrains and then calls :func:`complete`)."""
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(lineage_pending).where(
            lineage_pending.c.tenant_id == ctx.tenant_id, lineage_pending.c.done_at.is_(None),
            lineage_pending.c.action != RETRAINED)
            .order_by(lineage_pending.c.created_at)).mappings().all()
    return [{"id": r["id"], "action": r["action"], "target": r["target"], "reason": r["reason"],
             "created_at": r["created_at"].isoformat()} for r in rows]


def complete(conn: Connection, ctx: Context, action_id: str) -> None:
    conn.execute(update(lineage_pending).where(
        lineage_pending.c.tenant_id == ctx.tenant_id, lineage_pending.c.id == action_id)
        .values(done_at=_now()))


# ------------------------------------------------------------------------------- queries


def for_subject(db: Database, ctx: Context, subject: str,
                *aliases: str) -> dict[str, Any]:
    """Snapshots holding the subject (named ``subject`` or any of ``aliases``), models trained
    on them, and their deployments."""
    with db.begin(ctx.tenant_id) as conn:
        snaps = list(set(conn.execute(select(lineage_snapshot_subjects.c.snapshot_id).where(
            lineage_snapshot_subjects.c.tenant_id == ctx.tenant_id,
            lineage_snapshot_subjects.c.subject.in_([subject, *aliases]))).scalars()))
        snapshots = [_snapshot(conn, ctx, s) for s in sorted(snaps)]
        models = [_model(conn, ctx, n, v) for n, v in _models_of(conn, ctx, snaps)]
    return {"subject": subject, "snapshots": snapshots, "models": models}


def for_snapshot(db: Database, ctx: Context, snapshot_id: str) -> dict[str, Any]:
    with db.begin(ctx.tenant_id) as conn:
        snap = _snapshot(conn, ctx, snapshot_id)
        snap["models"] = [_model(conn, ctx, n, v) for n, v in _models_of(conn, ctx, [snapshot_id])]
    return snap


def for_model(db: Database, ctx: Context, model_name: str, version: str) -> dict[str, Any]:
    with db.begin(ctx.tenant_id) as conn:
        model = _model(conn, ctx, model_name, version)
        model["snapshot"] = _snapshot(conn, ctx, model["snapshot_id"])
    return model


def _snapshot(conn: Connection, ctx: Context, snapshot_id: str) -> dict[str, Any]:
    row = conn.execute(select(lineage_snapshots).where(
        lineage_snapshots.c.tenant_id == ctx.tenant_id,
        lineage_snapshots.c.snapshot_id == snapshot_id)).mappings().first()
    if row is None:
        raise NotFound(f"Snapshot {snapshot_id!r} has no lineage in tenant {ctx.tenant_id!r}.")
    return {"id": row["snapshot_id"], "digest": row["digest"],
            "log_position": row["log_position"], "first_seq": row["first_seq"],
            "excluded": orjson.loads(row["excluded"]), "subjects": row["subject_count"],
            "state": row["state"], "state_reason": row["state_reason"],
            "created_at": row["created_at"].isoformat()}


def _model(conn: Connection, ctx: Context, model_name: str, version: str) -> dict[str, Any]:
    row = conn.execute(select(lineage_models).where(
        lineage_models.c.tenant_id == ctx.tenant_id, lineage_models.c.model_name == model_name,
        lineage_models.c.version == str(version))).mappings().first()
    if row is None:
        raise NotFound(f"Model {model_name}@{version} has no lineage in tenant "
                       f"{ctx.tenant_id!r}.")
    deployments = conn.execute(select(lineage_deployments).where(
        lineage_deployments.c.tenant_id == ctx.tenant_id,
        lineage_deployments.c.model_name == model_name,
        lineage_deployments.c.version == str(version))).mappings().all()
    return {"model": f"{model_name}@{version}", "snapshot_id": row["snapshot_id"],
            "contains_erased_data": bool(row["contains_erased_data"]),
            "flag_reason": row["flag_reason"], "created_at": row["created_at"].isoformat(),
            **_replacements(conn, ctx, f"{model_name}@{version}"),
            "deployments": [{"target": d["target"], "deployed_at": d["deployed_at"].isoformat()}
                            for d in deployments]}


@dataclass(frozen=True)
class LineageView:
    """Lineage queries of one context (``tenant.lineage``)."""

    db: Database
    ctx: Context

    def subject(self, ref: str, *aliases: str) -> dict[str, Any]:
        """By keyed reference (``tenant.privacy.subject_ref``); aliases such as the token
        find rows written before references."""
        return for_subject(self.db, self.ctx, ref, *aliases)

    def snapshot(self, snapshot_id: str) -> dict[str, Any]:
        return for_snapshot(self.db, self.ctx, snapshot_id)

    def model(self, model_name: str, version: str) -> dict[str, Any]:
        return for_model(self.db, self.ctx, model_name, version)

    def pending(self) -> list[dict[str, Any]]:
        return pending(self.db, self.ctx)
