"""Current ticket state, folded from the log incrementally and rebuildable from scratch.

``apply`` is a pure fold over one event; ``project`` applies a batch inside the append's
transaction; ``rebuild`` replays the whole log and must reach exactly the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select

from supportops.events import cipher, log
from supportops.events.schemas import Event
from supportops.events.wiring import wiring
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.bulk import bulk_insert
from supportops.storage.schema import projection_positions, tickets

PROJECTION = "tickets"
_CHUNK = 2000
_RESOLVED = {"resolved", "closed", "solved", "completed"}


@dataclass
class TicketState:
    ticket_id: str
    first_seq: int
    last_seq: int
    subject: str | None = None
    status: str | None = None
    priority: str | None = None
    category: str | None = None
    group_name: str | None = None
    assignee: str | None = None
    channel: str | None = None
    subject_line: str | None = None
    opened_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reassignment_count: int = 0
    reopen_count: int = 0
    satisfaction: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


_COLUMNS = [f.name for f in fields(TicketState)]


def _ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _set_group(state: TicketState, group: str | None, count_it: bool = True) -> None:
    if group is None or group == state.group_name:
        return
    if state.group_name is not None and count_it:
        state.reassignment_count += 1
    state.group_name = group


def _overlay(state: TicketState, snap: dict[str, Any]) -> None:
    """The source system's own statement of the ticket wins over what we inferred."""
    for key, value in snap.items():
        if key == "attributes":
            state.attributes.update(value or {})
        elif key == "group":
            state.group_name = value
        elif key in ("opened_at", "resolved_at", "closed_at"):
            setattr(state, key, _ts(value))
        elif key in ("reassignment_count", "reopen_count"):
            if value is not None:
                setattr(state, key, int(value))
        else:
            setattr(state, key, value)


def apply(state: TicketState, ev: Event) -> None:
    """Fold one event into ``state``."""
    p = ev.payload
    kind = ev.type
    at = ev.occurred_at
    if kind == "ticket.created":
        state.status = p.get("status", "new")
        for key in ("priority", "category", "assignee", "channel", "subject_line"):
            if p.get(key) is not None:
                setattr(state, key, p[key])
        _set_group(state, p.get("group"), count_it=False)
        state.opened_at = state.opened_at or at
        state.attributes.update(p.get("attributes") or {})
        if ev.subject:
            state.subject = ev.subject
    elif kind == "message.added":
        is_reply = p.get("author") == "agent" and p.get("visibility", "public") == "public"
        if is_reply and state.first_response_at is None:
            state.first_response_at = at
    elif kind == "ticket.status_changed":
        state.status = p["status"]
    elif kind == "ticket.assigned":
        if (state.status or "").lower() == "new":
            state.status = "open"
        _set_group(state, p.get("group"))
        if p.get("assignee") is not None:
            state.assignee = p["assignee"]
    elif kind == "ticket.priority_changed":
        state.priority = p["priority"]
    elif kind == "ticket.categorized":
        state.category = p["category"]
    elif kind == "ticket.resolved":
        state.status = "resolved"
        state.resolved_at = _ts(p.get("resolved_at")) or at
        if p.get("resolution") and state.first_response_at is None:
            state.first_response_at = state.resolved_at
    elif kind == "ticket.reopened":
        state.status = "reopened"
        state.reopen_count += 1
        state.resolved_at = None
        state.closed_at = None
    elif kind == "ticket.closed":
        state.status = "closed"
        state.closed_at = _ts(p.get("closed_at")) or at
        if state.resolved_at is None:
            state.resolved_at = state.closed_at
    elif kind == "satisfaction.rated":
        state.satisfaction = float(p["score"])
    if p.get("state"):
        _overlay(state, p["state"])
    state.last_seq = ev.seq
    state.updated_at = at if state.updated_at is None or at > state.updated_at else state.updated_at


def _load(conn: Connection, ctx: Context, ids: Sequence[str]) -> dict[str, TicketState]:
    states: dict[str, TicketState] = {}
    for i in range(0, len(ids), _CHUNK):
        rows = conn.execute(
            select(tickets).where(tickets.c.tenant_id == ctx.tenant_id,
                                  tickets.c.ticket_id.in_(ids[i : i + _CHUNK]))
        ).mappings()
        for row in rows:
            values = {k: row[k] for k in _COLUMNS}
            values["attributes"] = orjson.loads(row["attributes"] or "{}")
            states[row["ticket_id"]] = TicketState(**values)
    return states


def _write(
    conn: Connection, ctx: Context, states: Iterable[TicketState], replace: bool = True
) -> None:
    rows = []
    states = list(states)
    # the customer's token is stored as the log stores it: sealed (``cipher.seal_subjects``)
    sealed = cipher.seal_subjects(conn, ctx, [s.subject for s in states])
    for s, subject in zip(states, sealed, strict=True):
        row = {name: getattr(s, name) for name in _COLUMNS}
        row["subject"] = subject
        row["attributes"] = orjson.dumps(s.attributes, option=orjson.OPT_SORT_KEYS).decode()
        row["tenant_id"] = ctx.tenant_id
        rows.append(row)
    ids = [r["ticket_id"] for r in rows] if replace else []
    for i in range(0, len(ids), _CHUNK):
        conn.execute(delete(tickets).where(tickets.c.tenant_id == ctx.tenant_id,
                                           tickets.c.ticket_id.in_(ids[i : i + _CHUNK])))
    bulk_insert(conn, tickets, rows)


def project(conn: Connection, ctx: Context, batch: Sequence[Event]) -> None:
    """Apply a batch of freshly appended events to the ticket projection."""
    ticket_events = [e for e in batch if e.ticket_id is not None]
    if not ticket_events:
        return
    ids = list(dict.fromkeys(e.ticket_id for e in ticket_events if e.ticket_id))
    states = _load(conn, ctx, ids)
    touched: dict[str, TicketState] = {}
    for ev in ticket_events:
        tid = ev.ticket_id
        assert tid is not None
        state = states.get(tid)
        if state is None:
            state = states[tid] = TicketState(ticket_id=tid, first_seq=ev.seq, last_seq=ev.seq)
        apply(state, ev)
        touched[tid] = state
    _write(conn, ctx, touched.values())
    _set_position(conn, ctx, batch[-1].seq)


def project_all(conn: Connection, ctx: Context, batch: Sequence[Event]) -> None:
    """The ticket projection, then every projector of the composition ``conn``'s database
    was built with (assist's search index...), in the caller's transaction."""
    project(conn, ctx, batch)
    for hook in wiring(conn).projectors.values():
        hook(conn, ctx, batch)


def _set_position(conn: Connection, ctx: Context, position: int) -> None:
    conn.execute(delete(projection_positions).where(
        projection_positions.c.tenant_id == ctx.tenant_id,
        projection_positions.c.name == PROJECTION))
    conn.execute(insert(projection_positions).values(
        tenant_id=ctx.tenant_id, name=PROJECTION, position=position))


def position(db: Database, ctx: Context) -> int:
    """The log position the ticket projection was built from."""
    with db.begin(ctx.tenant_id) as conn:
        value = conn.execute(select(projection_positions.c.position).where(
            projection_positions.c.tenant_id == ctx.tenant_id,
            projection_positions.c.name == PROJECTION)).scalar()
    return int(value or 0)


def rebuild(db: Database, ctx: Context, batch: int = 20000) -> int:
    """Drop the projection and replay the whole log; returns the number of tickets."""
    ctx.require("admin", action="rebuild projections")
    states: dict[str, TicketState] = {}
    last = 0
    for ev in log.iter_events(db, ctx, batch=batch, sealed=True):  # copies stay sealed
        last = ev.seq
        if ev.ticket_id is None:
            continue
        state = states.get(ev.ticket_id)
        if state is None:
            state = states[ev.ticket_id] = TicketState(ev.ticket_id, ev.seq, ev.seq)
        apply(state, ev)
    with db.begin(ctx.tenant_id) as conn:
        conn.execute(delete(tickets).where(tickets.c.tenant_id == ctx.tenant_id))
        values = list(states.values())
        for i in range(0, len(values), batch):
            _write(conn, ctx, values[i : i + batch], replace=False)
        _set_position(conn, ctx, last)
    return len(states)


def is_open(status: str | None) -> bool:
    return (status or "").lower() not in _RESOLVED
