"""Loading: one tenant-scoped read of tickets and events into an in-memory DuckDB.

Every metric is computed in SQL over two tables, ``t`` (the ticket projection) and ``ev``
(the event log, with the few payload fields analytics needs extracted once). Reading goes
through ``db.begin(ctx.tenant_id)`` with an explicit tenant filter, so PostgreSQL's row-level
security applies and no code path reads another tenant's rows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import Connection, String, func, select, type_coerce

from supportops.events import cipher
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.schema import events, tickets

TICKET_COLUMNS = ("ticket_id", "status", "priority", "category", "group_name", "assignee",
                  "channel", "opened_at", "first_response_at", "resolved_at", "closed_at",
                  "reassignment_count", "reopen_count", "satisfaction", "attributes")
_TIME_COLUMNS = frozenset({"opened_at", "first_response_at", "resolved_at", "closed_at"})
EVENT_COLUMNS = ("ticket_id", "seq", "type", "occurred_at", "payload")

#: Payload fields extracted in one JSON parse per event (order matters: see ``_EV_SQL``).
_PATHS = ("$.state.status", "$.status", "$.state.group", "$.group", "$.author",
          "$.visibility", "$.text", "$.score")
#: SQLite picks them out itself (one JSON array per event, a fraction of the payload's bytes);
#: other back-ends hand over the payload and DuckDB picks.
_ARRAY_PATHS = tuple(f"$[{i}]" for i in range(len(_PATHS)))

_EV_SQL = """
CREATE TABLE ev AS
SELECT ticket_id, seq, type, CAST(occurred_at AS TIMESTAMP) AS ts,
       COALESCE(j[1], CASE type WHEN 'ticket.resolved' THEN 'resolved'
                                WHEN 'ticket.reopened' THEN 'reopened'
                                WHEN 'ticket.closed' THEN 'closed' END,
                j[2], CASE WHEN type = 'ticket.created' THEN 'new' END) AS status_set,
       COALESCE(j[3], j[4]) AS group_set,
       j[5] AS author, COALESCE(j[6], 'public') AS visibility, j[7] AS text,
       TRY_CAST(j[8] AS DOUBLE) AS score
FROM (SELECT *, json_extract_string(payload, {paths}) AS j FROM ev_raw)
"""

_T_SQL = """
CREATE TABLE t AS
SELECT ticket_id, status, priority, category, group_name, assignee, channel,
       CAST(opened_at AS TIMESTAMP) AS opened_at,
       CAST(first_response_at AS TIMESTAMP) AS first_response_at,
       CAST(resolved_at AS TIMESTAMP) AS resolved_at,
       CAST(closed_at AS TIMESTAMP) AS closed_at,
       CAST(reassignment_count AS INTEGER) AS reassignment_count,
       CAST(reopen_count AS INTEGER) AS reopen_count,
       CAST(satisfaction AS DOUBLE) AS satisfaction,
       json_extract_string(attributes, '$.made_sla') AS made_sla
FROM t_raw
"""


@dataclass(frozen=True)
class Snapshot:
    """What a report was computed from: the DuckDB tables and the log position."""

    con: duckdb.DuckDBPyConnection
    tenant_id: str
    log_position: int
    as_of: datetime | None  # the newest event of the tenant's log (UTC)
    tickets: int
    events: int


def _column(values: npt.NDArray[Any]) -> pa.Array:
    """One object column to Arrow: text as text, anything else as Arrow infers it."""
    sample = next((v for v in values if v is not None), None)
    if sample is None or isinstance(sample, str):
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array(values, from_pandas=True)


def _to_arrow(rows: Sequence[Sequence[Any]], names: Sequence[str]) -> pa.Table:
    """Rows to an Arrow table through one 2-D object array (much faster than ``zip(*rows)``)."""
    if not rows:
        return pa.table({n: pa.array([], type=pa.string()) for n in names})
    matrix = np.empty((len(rows), len(names)), dtype=object)
    matrix[:] = rows
    return pa.table({n: _column(matrix[:, i]) for i, n in enumerate(names)})


def _plain(column: Any, name: str) -> Any:
    """Skip SQLAlchemy's per-row datetime processing: DuckDB casts the raw values."""
    return type_coerce(column, String).label(name) if name in _TIME_COLUMNS | {"occurred_at"} \
        else column


def _fetch(conn: Connection, stmt: Any) -> list[Any]:
    return list(conn.execute(stmt).cursor.fetchall())


def _ticket_filter(ctx: Context, start: datetime | None, end: datetime | None) -> list[Any]:
    clauses: list[Any] = [tickets.c.tenant_id == ctx.tenant_id]
    if start is not None:
        clauses.append(tickets.c.opened_at >= start)
    if end is not None:
        clauses.append(tickets.c.opened_at < end)
    return clauses


def _payload(db: Database) -> Any:
    if db.engine.dialect.name == "sqlite":
        return func.json_extract(events.c.payload, *_PATHS).label("payload")
    return events.c.payload


def _attributes(db: Database) -> Any:
    """Only ``made_sla`` is needed; SQLite trims the attributes to it (same JSON shape)."""
    if db.engine.dialect.name == "sqlite":
        made = func.json_extract(tickets.c.attributes, "$.made_sla")
        return func.json_object("made_sla", made).label("attributes")
    return tickets.c.attributes


def _read(
    db: Database, ctx: Context, start: datetime | None, end: datetime | None
) -> tuple[list[Any], list[Any], int, datetime | None]:
    t_columns = [_plain(tickets.c[n], n) for n in TICKET_COLUMNS[:-1]] + [_attributes(db)]
    t_stmt = select(*t_columns).where(*_ticket_filter(ctx, None, None))
    e_columns = [_plain(events.c[n], n) for n in EVENT_COLUMNS[:-1]] + [_payload(db)]
    e_stmt = select(*e_columns).where(
        events.c.tenant_id == ctx.tenant_id, events.c.ticket_id.is_not(None))
    if start is not None or end is not None:
        chosen = select(tickets.c.ticket_id).where(*_ticket_filter(ctx, start, end))
        e_stmt = e_stmt.where(events.c.ticket_id.in_(chosen))
    with db.begin(ctx.tenant_id) as conn:
        t_rows = _fetch(conn, t_stmt)
        e_rows = _opened(conn, ctx, _fetch(conn, e_stmt))
        position, as_of = conn.execute(
            select(func.max(events.c.seq), func.max(events.c.occurred_at))
            .where(events.c.tenant_id == ctx.tenant_id)).one()
    return t_rows, e_rows, int(position or 0), _utc(as_of)


def _opened(conn: Connection, ctx: Context, rows: list[Any]) -> list[Any]:
    """Event rows with sealed content (free text at rest is encrypted) decrypted."""
    docs = cipher.open_json(conn, ctx, [r[-1] for r in rows])
    return [r if r[-1] is d else (*r[:-1], d) for r, d in zip(rows, docs, strict=True)]


def _utc(value: Any) -> datetime | None:
    """Naive UTC, as DuckDB holds times (SQLite may hand back a string)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def load(
    db: Database,
    ctx: Context,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    threads: int | None = None,
) -> Snapshot:
    """Read the tenant's tickets (all: the backlog needs older ones too) and the events of
    tickets opened in ``[start, end)`` into DuckDB tables ``t`` and ``ev``."""
    t_rows, e_rows, position, as_of = _read(db, ctx, start, end)
    con = duckdb.connect(config={"threads": threads or min(os.cpu_count() or 1, 8)})
    con.register("t_raw", _to_arrow(t_rows, TICKET_COLUMNS))
    con.register("ev_raw", _to_arrow(e_rows, EVENT_COLUMNS))
    chosen = _ARRAY_PATHS if db.engine.dialect.name == "sqlite" else _PATHS
    paths = "[" + ", ".join(f"'{p}'" for p in chosen) + "]"
    con.execute(_T_SQL)
    con.execute(_EV_SQL.format(paths=paths))
    con.unregister("t_raw")
    con.unregister("ev_raw")
    return Snapshot(con, ctx.tenant_id, position, as_of, len(t_rows), len(e_rows))
