"""Micro-batching of concurrent triage requests, in stages per (principal, model).

A collector coroutine on the event loop gathers requests: the first one it finds, whatever
queued while the model was busy, and, if the model was idle, what arrives within
``WINDOW_S`` (up to ``MAX_BATCH``). Model threads handle each batch in one pass (one
pseudonymisation pass on one thread, then one n-gram and encoder pass on another). The
collector hands the batch over and goes back to collecting at once, so gathering the next
batch overlaps the model's work on this one, and no request costs a threadpool hop of its
own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from supportops.errors import SupportopsError
from supportops.workspace import Tenant

MAX_BATCH = 32
#: How long an idle model waits for company before it scores a request: a lone request
#: pays this once; under load batches fill while the model is busy and nobody waits for it.
WINDOW_S = 0.002
#: Requests allowed to wait for one model; more are refused at once (503) rather than
#: queued into timeouts, so a client can back off while the server keeps its latency.
MAX_WAITING = 256
WAIT_S = 30.0


class Overloaded(SupportopsError):
    """More triage requests are waiting than the server can answer in time."""

    http_status = 503
    code = "overloaded"


_Item = tuple[dict[str, Any], "asyncio.Future[dict[str, Any]]"]


class _Lane:
    """One model of one principal: its queue, collector task and two model threads.

    The model's work is itself two stages on two threads: pseudonymisation (spaCy, mostly
    Python) of one batch runs while the previous batch is scored (n-grams, then the ONNX
    encoder, which releases the GIL), so one batch's stages use both cores.
    """

    def __init__(self, tenant: Tenant, name: str, max_batch: int, window: float,
                 on_first_batch: Callable[[], None] | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.tenant, self.name = tenant, name
        self.max_batch, self.window = max_batch, window
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.idle = asyncio.Semaphore(1)  # the first stage is free
        self.scoring = asyncio.Semaphore(1)  # the second stage is free
        prefix = f"triage-{tenant.id}-{name}"
        self.prepare = ThreadPoolExecutor(1, thread_name_prefix=f"{prefix}-prepare")
        self.model = ThreadPoolExecutor(1, thread_name_prefix=f"{prefix}-score")
        self._first: Callable[[], None] | None = on_first_batch
        self.task = self.loop.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            batch = [await self.queue.get()]
            waited = self.idle.locked()
            await self.idle.acquire()
            self._drain(batch)
            if not waited and len(batch) < self.max_batch:
                # the model was idle: give requests arriving together a moment to join
                deadline = self.loop.time() + self.window
                while len(batch) < self.max_batch:
                    left = deadline - self.loop.time()
                    if left <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self.queue.get(), left))
                    except TimeoutError:
                        break
                    self._drain(batch)
            batch = [item for item in batch if not item[1].done()]  # not timed out
            if not batch:
                self.idle.release()
                continue
            self.loop.create_task(self._through(batch))

    async def _through(self, batch: list[_Item]) -> None:
        """Both stages for one batch: the first (holding ``idle``), then the second."""
        lines = [line for line, _ in batch]
        try:
            server = self.tenant.triage.server(self.name)
            rows: list[dict[str, Any]] | None = await self.loop.run_in_executor(
                self.prepare, server.prepare, lines)
        except Exception:
            rows = None  # each line alone below, so one bad input fails alone
        # the first stage is free only once the second has taken its batch: prepared
        # batches never pile up out of sight, the queue (and MAX_WAITING's 503) sees them
        await self.scoring.acquire()
        self.idle.release()
        try:
            results = await self.loop.run_in_executor(self.model, self._score, lines, rows)
        except Exception as err:  # handed to every waiting request
            results = [err] * len(batch)
        finally:
            self.scoring.release()
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _drain(self, batch: list[_Item]) -> None:
        while len(batch) < self.max_batch:
            try:
                batch.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    def _score(self, lines: list[dict[str, Any]], rows: list[dict[str, Any]] | None
               ) -> list[dict[str, Any] | BaseException]:
        """On the scoring thread: one call for the prepared batch; when that fails (or the
        batch could not be prepared), each line alone, so one bad input fails alone."""
        out: list[dict[str, Any] | BaseException] | None = None
        if rows is not None:
            with contextlib.suppress(Exception):
                out = list(self.tenant.triage.predict(lines, self.name, prepared=rows))
        if out is None:
            out = [self._one(line) for line in lines]
        first, self._first = self._first, None
        if first is not None:
            first()
        return out

    def _one(self, line: dict[str, Any]) -> dict[str, Any] | BaseException:
        try:
            return self.tenant.triage.predict([line], self.name)[0]
        except Exception as err:
            return err

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.prepare.shutdown(wait=False, cancel_futures=True)
        self.model.shutdown(wait=False, cancel_futures=True)


def one_thread_for_numerics() -> None:
    """After the first batch (model loaded, any parallel set-up done), numerics in the
    server run on one thread: a request is small, and the cores are wanted by the event
    loop, the other stages and the other requests, not by BLAS helper threads."""
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        from supportops.assist.retrieval import one_blas_thread

        threadpool_limits(limits=1)
        one_blas_thread.pin()  # a search running now must not restore its earlier limit


class Batcher:
    def __init__(self, max_batch: int = MAX_BATCH, window: float = WINDOW_S,
                 on_first_batch: Callable[[], None] | None = one_thread_for_numerics) -> None:
        self.max_batch, self.window = max_batch, window
        self._on_first = on_first_batch
        self._lanes: dict[tuple[Any, str], _Lane] = {}
        self._lock = threading.Lock()

    async def triage(self, tenant: Tenant, text: str, name: str,
                     fields: dict[str, Any]) -> dict[str, Any]:
        """Score one text in the next batch of its (principal, model) lane."""
        lane = self._lane(tenant, name)
        if lane.queue.qsize() >= MAX_WAITING:
            raise Overloaded(f"{lane.queue.qsize()} triage requests for model {name!r} are "
                             "waiting; try again shortly.")
        future: asyncio.Future[dict[str, Any]] = lane.loop.create_future()
        lane.queue.put_nowait(({"text": text, **fields}, future))
        try:
            return await asyncio.wait_for(asyncio.shield(future), WAIT_S)
        except TimeoutError:
            future.cancel()
            raise Overloaded(f"Model {name!r} did not answer within {WAIT_S:.0f} s; try "
                             "again shortly.") from None

    def _lane(self, tenant: Tenant, name: str) -> _Lane:
        key = (tenant.ctx, name)
        loop = asyncio.get_running_loop()
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None or lane.loop is not loop:  # a new event loop (tests restart it)
                if lane is not None:
                    lane.close()
                first, self._on_first = self._on_first, None
                lane = self._lanes[key] = _Lane(tenant, name, self.max_batch, self.window,
                                                first)
        return lane

    def close(self) -> None:
        with self._lock:
            for lane in self._lanes.values():
                lane.close()
            self._lanes.clear()
