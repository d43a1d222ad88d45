"""Point-in-time dataset snapshots of a tenant's log, written as Parquet.

A snapshot replays the log up to a position, one row per ticket: what was known when the
ticket opened (text, channel, open-time fields, for features without leakage) and how it
ended (category, group, priority... as labels). Subjects opted out of training at that
position are excluded, and so is anything erasure redacted. Each snapshot records its id,
content digest, log position, row count and exclusions, and writes a lineage edge so erasure
can find it later. Text is the pseudonymised text the log holds.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, insert, select, update

from supportops.datasets.paths import resolve, to_stored
from supportops.datasets.tables import dataset_snapshots
from supportops.errors import NotFound, ValidationFailed
from supportops.events import cipher, log
from supportops.events.projection import TicketState, apply
from supportops.events.schemas import Event, is_write_back
from supportops.governance import audit, lineage
from supportops.governance.context import Context, Role
from supportops.privacy.optout import opted_out_subjects
from supportops.storage import Database
from supportops.storage.schema import tenants

LABELS = ("category", "group", "priority", "status", "channel", "assignee", "sentiment")


def sentiment_of(score: float | None) -> str | None:
    """A sentiment label from the customer's own satisfaction rating (1-5 scale): the one
    label source a help desk has without annotators. 1-2 negative, 3 neutral, 4-5 positive."""
    if score is None:
        return None
    if score <= 2:
        return "negative"
    return "neutral" if score < 4 else "positive"
SNAPSHOT_ROLES: tuple[Role, ...] = ("admin", "ml_engineer")


@dataclass(frozen=True)
class Snapshot:
    id: str
    name: str
    created_at: datetime
    log_position: int
    row_count: int
    digest: str
    path: Path
    filters: dict[str, Any]
    exclusions: dict[str, Any]
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": self.created_at.isoformat(),
                "log_position": self.log_position, "row_count": self.row_count,
                "digest": self.digest, "path": str(self.path), "filters": self.filters,
                "exclusions": self.exclusions, "state": self.state}

    def read(self) -> pa.Table:
        """The snapshot's rows, after checking them against the digest recorded when it was
        made (or, once erasure redacted it, the one erasure recorded; a snapshot redacted
        before erasure recorded one is checked by its row count only): a model trained or
        rebuilt from a changed file would not be the model its lineage names. A file that
        is gone, unreadable or altered is refused."""
        try:
            table = pq.read_table(self.path)
        except FileNotFoundError:
            raise NotFound(f"Snapshot {self.id!r} has no file at {self.path} any more (state "
                           f"{self.state!r}); make a new one with 'supportops datasets "
                           "create'.") from None
        except (OSError, pa.ArrowException) as err:
            raise ValidationFailed(self._tampered(f"it cannot be read ({type(err).__name__})"),
                                   field="snapshot") from None
        expected = self.digest
        if self.state == "redacted":  # erasure rewrote the file and recorded its new digest
            expected = self.exclusions.get("redacted_digest") or ""
        found = rows_digest(table.to_pylist())
        if (expected and found != expected) or table.num_rows != self.row_count:
            raise ValidationFailed(self._tampered(
                f"its rows have digest {found[:12]}... ({table.num_rows} rows), not the "
                f"recorded {expected[:12]}... ({self.row_count} rows)"), field="snapshot")
        return table

    def _tampered(self, why: str) -> str:
        return (f"Snapshot {self.id!r} at {self.path} was changed or corrupted after it was "
                f"made: {why}. Nothing was read from it; make a new snapshot ('supportops "
                "datasets create') or restore the file from a backup.")


@dataclass
class _Row:
    state: TicketState
    created: Event | None = None
    redacted: bool = False


def _open_fields(created: Event) -> dict[str, Any]:
    """Fields known when the ticket opened: the created payload and the source's own state."""
    p = created.payload
    fields: dict[str, Any] = {}
    for key, value in ((p.get("state") or {}).get("attributes") or {}).items():
        fields[key] = value
    for key, value in (p.get("attributes") or {}).items():
        fields[key] = value
    for key in ("category", "priority", "channel", "group", "status"):
        value = p.get(key, (p.get("state") or {}).get(key))
        if value is not None:
            fields[key] = value
    return fields


def _text(created: Event | None) -> str:
    if created is None:
        return ""
    subject_line = created.payload.get("subject_line") or ""
    text = created.payload.get("text") or ""
    return f"{subject_line}\n{text}".strip() if subject_line else text


def fold_tickets(stream: Iterable[Event]) -> dict[str, _Row]:
    """One row per ticket. Events a model wrote back (their payload names a ``model``) are
    not folded in: labels are what people decided, never a model's own guesses."""
    rows: dict[str, _Row] = {}
    for ev in stream:
        if ev.ticket_id is None or is_write_back(ev.payload, ev.idempotency_key):
            continue
        row = rows.get(ev.ticket_id)
        if row is None:
            row = rows[ev.ticket_id] = _Row(TicketState(ev.ticket_id, ev.seq, ev.seq))
        if ev.redacted_at is not None:
            row.redacted = True
            continue
        if ev.type == "ticket.created" and row.created is None:
            row.created = ev
        apply(row.state, ev)
    return rows


def to_record(row: _Row) -> dict[str, Any]:
    s = row.state
    created = row.created
    open_fields = _open_fields(created) if created else {}
    return {
        "ticket_id": s.ticket_id, "subject": s.subject, "opened_at": s.opened_at,
        "text": _text(created), "text_event_id": created.id if created else None,
        "category": s.category, "group": s.group_name, "priority": s.priority,
        "status": s.status, "channel": s.channel, "assignee": s.assignee,
        "resolved_at": s.resolved_at, "closed_at": s.closed_at,
        "reassignment_count": s.reassignment_count, "reopen_count": s.reopen_count,
        "satisfaction": s.satisfaction, "sentiment": sentiment_of(s.satisfaction),
        "open_fields": orjson.dumps(open_fields, option=orjson.OPT_SORT_KEYS).decode(),
        "first_seq": s.first_seq, "last_seq": s.last_seq,
    }


_SCHEMA = pa.schema([
    ("ticket_id", pa.string()), ("subject", pa.string()),
    ("opened_at", pa.timestamp("us", tz="UTC")), ("text", pa.string()),
    ("text_event_id", pa.string()), ("category", pa.string()), ("group", pa.string()),
    ("priority", pa.string()), ("status", pa.string()), ("channel", pa.string()),
    ("assignee", pa.string()), ("resolved_at", pa.timestamp("us", tz="UTC")),
    ("closed_at", pa.timestamp("us", tz="UTC")), ("reassignment_count", pa.int32()),
    ("reopen_count", pa.int32()), ("satisfaction", pa.float64()), ("sentiment", pa.string()),
    ("open_fields", pa.string()),
    ("first_seq", pa.int64()), ("last_seq", pa.int64()),
])


def _position(db: Database, ctx: Context) -> int:
    with db.begin(ctx.tenant_id) as conn:
        return int(conn.execute(select(tenants.c.last_seq).where(
            tenants.c.id == ctx.tenant_id)).scalar_one())


def _bounded(stream: Iterator[Event], position: int, erased: list[int]) -> Iterator[Event]:
    """Events up to ``position``; counts erased openings in ``erased[0]`` on the way (erasure
    cuts a tombstone's ticket link, so the fold never sees which ticket it was)."""
    for ev in stream:
        if ev.seq > position:
            return
        if ev.redacted_at is not None and ev.type == "ticket.created":
            erased[0] += 1
        yield ev


def build_records(
    db: Database, ctx: Context, position: int, *, ticket_ids: set[str] | None = None,
    require: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows of the snapshot and what was excluded (opted-out subjects, erased tickets).

    A ticket whose opening is not in the log (erased, with later events of other authors
    left) has no text and no open-time fields: it is left out too."""
    opted_out = opted_out_subjects(db, ctx, as_of=position)
    erased_openings = [0]
    rows = fold_tickets(_bounded(log.iter_events(db, ctx, batch=20000), position,
                                 erased_openings))
    records: list[dict[str, Any]] = []
    excluded_subjects: set[str] = set()
    if ticket_ids is None:
        erased = erased_openings[0]
    else:  # the asked-for tickets whose opening is gone
        erased = sum(1 for t in ticket_ids if t not in rows or rows[t].created is None)
    for ticket_id in sorted(rows):
        row = rows[ticket_id]
        if ticket_ids is not None and ticket_id not in ticket_ids:
            continue
        if row.redacted or row.created is None:
            continue
        if row.state.subject is not None and row.state.subject in opted_out:
            excluded_subjects.add(row.state.subject)
            continue
        record = to_record(row)
        if require and record.get(require) in (None, ""):
            continue
        records.append(record)
    exclusions = {"opted_out_subjects": sorted(excluded_subjects), "erased_tickets": erased}
    return records, exclusions


def rows_digest(records: list[dict[str, Any]]) -> str:
    """SHA-256 of the rows in order, each as sorted-key JSON (naive times as UTC)."""
    h = hashlib.sha256()
    for record in records:
        h.update(orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC))
        h.update(b"\n")
    return h.hexdigest()


def create_snapshot(
    db: Database, ctx: Context, root: Path, name: str, *, position: int | None = None,
    ticket_ids: set[str] | None = None, require: str | None = None,
) -> Snapshot:
    """Replay the log up to ``position`` (default: now) into a Parquet snapshot."""
    ctx.require(*SNAPSHOT_ROLES, action="create dataset snapshots")
    if require is not None and require not in LABELS:
        raise ValidationFailed(f"The 'require' field must be one of {', '.join(LABELS)}. "
                               f"Got {require!r}.")
    position = _position(db, ctx) if position is None else position
    records, exclusions = build_records(db, ctx, position, ticket_ids=ticket_ids, require=require)
    snapshot_id = f"snap-{uuid.uuid4().hex[:12]}"
    folder = root / "datasets" / ctx.tenant_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{snapshot_id}.parquet"
    pq.write_table(pa.Table.from_pylist(records, schema=_SCHEMA), path)
    digest = rows_digest(records)
    filters = {"require": require, "tickets": len(ticket_ids) if ticket_ids is not None else None}
    now = datetime.now(UTC)
    with db.begin(ctx.tenant_id) as conn:
        conn.execute(insert(dataset_snapshots).values(
            tenant_id=ctx.tenant_id, id=snapshot_id, name=name, created_at=now,
            created_by=ctx.principal_id, log_position=position, as_of=None,
            filters=orjson.dumps(filters).decode(), row_count=len(records), digest=digest,
            path=to_stored(conn, path), exclusions=orjson.dumps(exclusions).decode(),
            state="current"))
        members = {r["subject"] for r in records if r["subject"]}
        excluded_subjects = set(exclusions["opted_out_subjects"])
        refs = cipher.subject_refs(conn, ctx, sorted(members | excluded_subjects))
        lineage.record_snapshot(  # lineage names subjects by keyed reference, not by token
            conn, ctx, snapshot_id, digest, position, subjects={refs[s] for s in members},
            excluded=[refs[s] for s in excluded_subjects])
        audit.record(conn, ctx, "dataset.snapshot", details={
            "snapshot": snapshot_id, "rows": len(records), "log_position": position})
    return Snapshot(snapshot_id, name, now, position, len(records), digest, path, filters,
                    exclusions, "current")


def _from_row(conn: Connection, r: Any) -> Snapshot:
    return Snapshot(r.id, r.name, r.created_at, r.log_position, r.row_count, r.digest,
                    resolve(conn, r.path), orjson.loads(r.filters), orjson.loads(r.exclusions),
                    r.state)


def list_snapshots(db: Database, ctx: Context) -> list[Snapshot]:
    with db.begin(ctx.tenant_id) as conn:
        rows = conn.execute(select(dataset_snapshots).where(
            dataset_snapshots.c.tenant_id == ctx.tenant_id)
            .order_by(dataset_snapshots.c.created_at)).all()
        return [_from_row(conn, r) for r in rows]


def get_snapshot(db: Database, ctx: Context, snapshot_id: str) -> Snapshot:
    with db.begin(ctx.tenant_id) as conn:
        row = conn.execute(select(dataset_snapshots).where(
            dataset_snapshots.c.tenant_id == ctx.tenant_id,
            dataset_snapshots.c.id == snapshot_id)).first()
        if row is None:
            raise NotFound(f"Snapshot {snapshot_id!r} does not exist in tenant "
                           f"{ctx.tenant_id!r}; see 'supportops datasets list'.")
        return _from_row(conn, row)


def rebuild_flagged(db: Database, ctx: Context, root: Path) -> list[dict[str, str]]:
    """Carry out erasure's pending snapshot rebuilds: a new snapshot without the erased data
    replaces each flagged one, whose file is deleted. A snapshot of chosen tickets is rebuilt
    from the same tickets (less the erased ones). Returns old -> new ids."""
    ctx.require(*SNAPSHOT_ROLES, action="rebuild dataset snapshots")
    done: list[dict[str, str]] = []
    for action in lineage.pending(db, ctx):
        if action["action"] != "rebuild_snapshot":
            continue
        old = get_snapshot(db, ctx, action["target"])
        same_tickets = None
        if old.filters.get("tickets") is not None and old.path.exists():
            same_tickets = {str(t) for t in pq.read_table(old.path, columns=["ticket_id"])
                            .column("ticket_id").to_pylist()}
        new = create_snapshot(db, ctx, root, old.name, position=_position(db, ctx),
                              ticket_ids=same_tickets, require=old.filters.get("require"))
        old.path.unlink(missing_ok=True)
        with db.begin(ctx.tenant_id) as conn:
            conn.execute(update(dataset_snapshots).where(
                dataset_snapshots.c.tenant_id == ctx.tenant_id,
                dataset_snapshots.c.id == old.id).values(state="rebuilt", replaced_by=new.id))
            lineage.set_snapshot_state(conn, ctx, old.id, "deleted", f"replaced by {new.id}")
            lineage.complete(conn, ctx, action["id"])
        done.append({"old": old.id, "new": new.id})
    return done




def replacement_of(db: Database, ctx: Context, snapshot_id: str) -> Snapshot:
    """The snapshot that now stands for ``snapshot_id``: itself, or the end of its chain of
    rebuilds (each rebuilt snapshot names the one that replaced it)."""
    seen: set[str] = set()
    with db.begin(ctx.tenant_id) as conn:
        while snapshot_id not in seen:
            seen.add(snapshot_id)
            nxt = conn.execute(select(dataset_snapshots.c.replaced_by).where(
                dataset_snapshots.c.tenant_id == ctx.tenant_id,
                dataset_snapshots.c.id == snapshot_id)).scalar()
            if not nxt:
                break
            snapshot_id = str(nxt)
    return get_snapshot(db, ctx, snapshot_id)
