"""Micro-batching of concurrent triage requests: one worker per (principal, model) scores
whatever queued up while it was busy, in one call. No request waits for a timer: a lone
request is scored at once, a burst shares one pseudonymisation and one encoder pass."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any

from supportops.errors import SupportopsError
from supportops.workspace import Tenant

MAX_BATCH = 64
#: Requests allowed to wait for one model; more are refused at once (503) rather than
#: queued into timeouts, so a client can back off while the server keeps its latency.
MAX_WAITING = 256
WAIT_S = 30.0


class Overloaded(SupportopsError):
    """More triage requests are waiting than the server can answer in time."""

    http_status = 503
    code = "overloaded"

_Item = tuple[dict[str, Any], "Future[dict[str, Any]]"]


class Batcher:
    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._queues: dict[tuple[Any, str], queue.SimpleQueue[_Item | None]] = {}
        self._lock = threading.Lock()

    def triage(self, tenant: Tenant, text: str, name: str, ticket_id: str | None,
               fields: dict[str, Any]) -> dict[str, Any]:
        """Score one text in the next batch; then, for a ticket, announce it."""
        future: Future[dict[str, Any]] = Future()
        jobs = self._queue(tenant, name)
        if jobs.qsize() >= MAX_WAITING:
            raise Overloaded(f"{jobs.qsize()} triage requests for model {name!r} are waiting; "
                             "try again shortly.")
        jobs.put(({"text": text, **fields}, future))
        try:
            record = future.result(timeout=WAIT_S)
        except TimeoutError:
            raise Overloaded(f"Model {name!r} did not answer within {WAIT_S:.0f} s; try "
                             "again shortly.") from None
        if ticket_id is not None:
            tenant.announce_triage(ticket_id, record)
        return record

    def _queue(self, tenant: Tenant, name: str) -> queue.SimpleQueue[_Item | None]:
        key = (tenant.ctx, name)
        with self._lock:
            found = self._queues.get(key)
            if found is None:
                found = self._queues[key] = queue.SimpleQueue()
                threading.Thread(target=self._work, args=(found, tenant, name),
                                 name=f"triage-{tenant.id}-{name}", daemon=True).start()
        return found

    def _work(self, jobs: queue.SimpleQueue[_Item | None], tenant: Tenant, name: str) -> None:
        while True:
            first = jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    jobs.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            _score(tenant, name, batch)

    def close(self) -> None:
        with self._lock:
            for jobs in self._queues.values():
                jobs.put(None)
            self._queues.clear()


def _score(tenant: Tenant, name: str, batch: list[_Item]) -> None:
    """Score a batch; when it fails, score each alone so one bad input fails alone."""
    try:
        records = tenant.triage_batch([line for line, _ in batch], name)
    except Exception as err:
        if len(batch) == 1:
            batch[0][1].set_exception(err)
            return
        for item in batch:
            _score(tenant, name, [item])
        return
    for (_, future), record in zip(batch, records, strict=True):
        future.set_result(record)
