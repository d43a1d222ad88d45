"""In-process serving: load the champion once, hot-swap it the moment it is promoted.

Promotion and rollback replace a per-model stamp file holding a fresh nanosecond stamp; each
call reads it (a few microseconds) and reloads from the registry only when it changed. The
content is compared, not the mtime: two promotions inside one filesystem timestamp tick
would leave the mtime unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from supportops.triage.model import TriageModel
from supportops.triage.service import TriageService, serving_pointer


def input_row(line: dict[str, Any]) -> dict[str, Any]:
    """A predict input line ``{"id", "text", ...fields}`` as a snapshot-shaped row."""
    fields = {k: v for k, v in line.items() if k not in ("id", "text") and v is not None}
    return {"text": str(line.get("text") or ""), "open_fields": fields}


class TriageServer:
    """The champion of one model, kept loaded; thread-safe reloads."""

    def __init__(self, service: TriageService, name: str) -> None:
        self.service = service
        self.name = name
        self._pointer = serving_pointer(service.workspace_path, service.ctx.tenant_id, name)
        self._stamp: str | None = None
        self._model: TriageModel | None = None
        self.version: str | None = None
        self._lock = threading.Lock()
        #: Called with (name, version, lines, rows, records, seconds) after each batch, ``rows``
        #: as :meth:`prepare` made them (the monitor room records predictions and scores the
        #: challenger on the same rows; this room cannot import it).
        self.observer: Callable[..., None] | None = None

    def _read_stamp(self) -> str:
        try:
            return self._pointer.read_text()
        except FileNotFoundError:
            return ""

    def _current(self) -> TriageModel:
        stamp = self._read_stamp()
        if self._model is None or stamp != self._stamp:
            with self._lock:
                if self._model is None or stamp != self._stamp:
                    self._model, self.version = self.service.load(self.name)
                    self._stamp = stamp
        return self._model

    @property
    def target(self) -> str:
        """The label the served model predicts (``category``, ``group``, ...)."""
        return str(self._current().target)

    def predict(self, lines: Sequence[dict[str, Any]], top_k: int = 3) -> list[dict[str, Any]]:
        """Prediction records (``{id, label|None, confidence, top, abstained}``) for lines."""
        started = time.perf_counter()
        return self.score(lines, self.prepare(lines), top_k, started=started)

    def prepare(self, lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The first stage of :meth:`predict`: input rows, texts pseudonymised. A server may
        run it for one batch while :meth:`score` runs for the previous one."""
        rows = [input_row(line) for line in lines]
        texts = self.service.pseudonymise_texts([r["text"] for r in rows])
        for row, text in zip(rows, texts, strict=True):
            row["text"] = text
        return rows

    def score(self, lines: Sequence[dict[str, Any]], rows: list[dict[str, Any]],
              top_k: int = 3, *, started: float | None = None) -> list[dict[str, Any]]:
        """The second stage of :meth:`predict`: the champion's records for prepared rows."""
        started = time.perf_counter() if started is None else started
        model = self._current()
        records = model.predict_records([line.get("id") for line in lines], rows, top_k=top_k)
        if self.observer is not None:
            self.observer(self.name, self.version, lines, rows, records,
                          time.perf_counter() - started)
        return records

    def predict_one(self, text: str, ticket_id: str | None = None,
                    **fields: Any) -> dict[str, Any]:
        record = self.predict([{"id": ticket_id, "text": text, **fields}])[0]
        record["model"] = self.name
        record["version"] = self.version
        return record
