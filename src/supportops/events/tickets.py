"""Reading the ticket projection: count, list, show (with the ticket's events)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from supportops.errors import NotFound, ValidationFailed
from supportops.events import cipher, log
from supportops.governance.context import Context
from supportops.storage import Database
from supportops.storage.schema import tickets

_FILTERS = ("status", "priority", "category", "group_name", "assignee", "channel", "subject")


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _cursor_seq(cursor: str) -> int:
    if not (cursor.startswith("s") and cursor[1:].isdigit() and len(cursor) < 20):
        raise ValidationFailed(f"The 'cursor' must be a 'next_cursor' this API returned. "
                               f"Got {cursor[:40]!r}.", field="cursor")
    return int(cursor[1:])


@dataclass(frozen=True)
class TicketsView:
    db: Database
    ctx: Context

    def _where(self, conn: Connection, filters: dict[str, str | None]) -> list[Any]:
        clauses = [tickets.c.tenant_id == self.ctx.tenant_id]
        for key, value in filters.items():
            if value is not None:
                column = "group_name" if key == "group" else key
                if column not in _FILTERS:
                    raise ValidationFailed(f"Tickets cannot be filtered by {key!r}; use one of "
                                           f"{', '.join(_FILTERS)}.")
                if column == "subject":  # stored sealed, as the log stores it
                    clauses.append(tickets.c.subject.in_(
                        cipher.subject_forms(conn, self.ctx, value)))
                else:
                    clauses.append(tickets.c[column] == value)
        return clauses

    def count(self, **filters: str | None) -> int:
        with self.db.begin(self.ctx.tenant_id) as conn:
            return int(conn.execute(
                select(func.count()).select_from(tickets).where(*self._where(conn, filters))
            ).scalar_one())

    def list(
        self, limit: int = 50, offset: int = 0, **filters: str | None
    ) -> builtins.list[dict[str, Any]]:
        with self.db.begin(self.ctx.tenant_id) as conn:
            query = (select(tickets).where(*self._where(conn, filters))
                     .order_by(tickets.c.opened_at.desc(), tickets.c.ticket_id)
                     .limit(limit).offset(offset))
            rows = conn.execute(query).mappings().all()
            return self._opened(conn, [self._public(r) for r in rows])

    def page(self, limit: int = 50, cursor: str | None = None, **filters: str | None
             ) -> dict[str, Any]:
        """One page of tickets, newest first by first log position: ``{data, count,
        next_cursor}``; pass ``next_cursor`` back for the next page (stable under inserts)."""
        if not 1 <= limit <= 1000:
            raise ValidationFailed(f"The 'limit' must be in [1, 1000]. Got {limit}.",
                                   field="limit")
        with self.db.begin(self.ctx.tenant_id) as conn:
            clauses = self._where(conn, filters)
            if cursor is not None:
                clauses.append(tickets.c.first_seq < _cursor_seq(cursor))
            query = (select(tickets).where(*clauses).order_by(tickets.c.first_seq.desc())
                     .limit(limit + 1))
            rows = conn.execute(query).mappings().all()
            data = self._opened(conn, [self._public(r) for r in rows[:limit]])
        more = len(rows) > limit
        return {"data": data, "count": len(data),
                "next_cursor": f"s{data[-1]['first_seq']}" if more and data else None}

    def get(self, ticket_id: str, with_events: bool = True) -> dict[str, Any]:
        with self.db.begin(self.ctx.tenant_id) as conn:
            row = conn.execute(select(tickets).where(
                tickets.c.tenant_id == self.ctx.tenant_id, tickets.c.ticket_id == ticket_id
            )).mappings().first()
            if row is None:
                raise NotFound(
                    f"Ticket {ticket_id!r} does not exist in tenant {self.ctx.tenant_id!r}.")
            out = self._opened(conn, [self._public(row)])[0]
        if with_events:
            out["events"] = [
                {"seq": e.seq, "type": e.type, "occurred_at": e.occurred_at.isoformat(),
                 "payload": e.payload}
                for e in log.iter_events(self.db, self.ctx, ticket_id=ticket_id)
            ]
        return out

    def all_rows(self) -> builtins.list[dict[str, Any]]:
        """Every ticket row in a stable order (rebuild comparisons, exports)."""
        with self.db.begin(self.ctx.tenant_id) as conn:
            rows = conn.execute(select(tickets).where(tickets.c.tenant_id == self.ctx.tenant_id)
                                .order_by(tickets.c.ticket_id)).mappings().all()
            return self._opened(conn, [self._public(r) for r in rows])

    def _opened(self, conn: Connection, rows: builtins.list[dict[str, Any]]
                ) -> builtins.list[dict[str, Any]]:
        """Rows with their sealed content (subject line, attributes) and customer token
        decrypted in one batch."""
        subjects = cipher.open_subjects(conn, self.ctx, [r["subject"] for r in rows])
        for row, subject in zip(rows, subjects, strict=True):
            row["subject"] = subject
        cipher.open_values(conn, self.ctx, rows)
        return rows

    @staticmethod
    def _public(row: Any) -> dict[str, Any]:
        out = {str(k): _jsonable(v) for k, v in row.items() if k != "tenant_id"}
        out["group"] = out.pop("group_name")
        out["attributes"] = orjson.loads(out["attributes"] or "{}")
        return out
