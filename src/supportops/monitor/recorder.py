"""A record for every served prediction, written off the serving path.

Serving hands each batch to :meth:`PredictionRecorder.observe` (a queue put: microseconds);
a background thread writes the records (model, version, confidence, abstention, latency, and
for stored tickets the subject and the event id of the text's embedding), and serves the
challenger in shadow on the same inputs. ``flush`` writes what is pending at once.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from supportops.governance.context import Context
from supportops.monitor.tables import prediction_records
from supportops.storage import Database
from supportops.storage.bulk import bulk_insert
from supportops.storage.schema import events

#: (name, version, alias, lines, prepared rows, records, seconds)
Batch = tuple[str, str | None, str, list[dict[str, Any]], list[dict[str, Any]],
              list[dict[str, Any]], float]


class PredictionRecorder:
    """Queue of served batches and the thread that records them."""

    def __init__(self, db: Database, ctx: Context, shadow: Any | None = None,
                 interval: float = 0.5) -> None:
        self.db = db
        self.ctx = ctx
        #: ``shadow(name, lines, rows) -> (version, records, seconds) | None``: the
        #: challenger's predictions on the rows the champion scored (None when the model has
        #: no challenger).
        self.shadow = shadow
        self.interval = interval
        self._queue: queue.SimpleQueue[Batch] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)

    def observe(self, name: str, version: str | None, lines: Sequence[dict[str, Any]],
                rows: Sequence[dict[str, Any]], records: list[dict[str, Any]],
                seconds: float) -> None:
        """Serving's hook: queue the batch (the thread records it); ``rows`` are the lines
        as the champion scored them (pseudonymised), which the challenger reuses."""
        self._queue.put((name, version, "champion", list(lines), list(rows), records, seconds))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="supportops-prediction-recorder")
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                time.sleep(self.interval)

    def flush(self) -> int:
        """Record everything queued (and its shadow predictions); returns how many rows."""
        with self._lock:
            batches: list[Batch] = []
            while True:
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not batches:
                return 0
            batches += self._shadowed(batches)
            rows = self._rows(batches)
            with self.db.begin(self.ctx.tenant_id) as conn:
                bulk_insert(conn, prediction_records, rows)
            return len(rows)

    def _shadowed(self, batches: list[Batch]) -> list[Batch]:
        """The challenger's batches: one shadow call per model for all of this flush's lines
        (a call asks the registry for the challenger, so one per served batch would cost a
        registry query per batch, on a thread that shares the interpreter with serving)."""
        out: list[Batch] = []
        if self.shadow is None:
            return out
        by_name: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        for name, _, _, lines, rows, _, _ in batches:
            pending = by_name.setdefault(name, ([], []))
            pending[0].extend(lines)
            pending[1].extend(rows)
        for name, (lines, rows) in by_name.items():
            shadow = self.shadow(name, lines, rows)
            if shadow is not None:
                version, records, seconds = shadow
                out.append((name, version, "challenger", lines, rows, records, seconds))
        return out

    def _rows(self, batches: list[Batch]) -> list[dict[str, Any]]:
        tickets = {str(line["id"]) for b in batches for line in b[3] if line.get("id")}
        known = self._ticket_texts(tickets)
        now = datetime.now(UTC)
        rows = []
        for name, version, alias, lines, _, records, seconds in batches:
            per_row = 1000.0 * seconds / max(len(records), 1)
            for line, record in zip(lines, records, strict=True):
                subject, embedding = known.get(str(line.get("id")), (None, None))
                rows.append({
                    "tenant_id": self.ctx.tenant_id, "id": uuid.uuid4().hex, "name": name,
                    "version": str(version), "alias": alias,
                    "ticket_id": str(line["id"]) if str(line.get("id")) in known else None,
                    "subject": subject, "embedding_id": embedding,
                    "label": None if record["label"] is None else str(record["label"]),
                    "confidence": float(record["confidence"]),
                    "abstained": bool(record["abstained"]), "latency_ms": per_row,
                    "created_at": now})
        return rows

    def _ticket_texts(self, ticket_ids: set[str]) -> dict[str, tuple[str | None, str]]:
        """Stored tickets among the ids: their subject and the id of their opening event
        (whose text's vector the embedding cache keeps)."""
        if not ticket_ids:
            return {}
        out: dict[str, tuple[str | None, str]] = {}
        ids = sorted(ticket_ids)
        with self.db.begin(self.ctx.tenant_id) as conn:
            for i in range(0, len(ids), 2000):
                for ticket, subject, event in conn.execute(select(
                        events.c.ticket_id, events.c.subject, events.c.id).where(
                        events.c.tenant_id == self.ctx.tenant_id,
                        events.c.type == "ticket.created",
                        events.c.ticket_id.in_(ids[i : i + 2000]))):
                    out.setdefault(str(ticket), (subject, str(event)))
        return out
