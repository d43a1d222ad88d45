"""The server's webhook deliverer: a thread that, every ``interval`` seconds, attempts each
tenant's due deliveries (first tries and back-off retries alike)."""

from __future__ import annotations

import logging
import threading

from supportops.webhooks.service import Transport, urllib_transport
from supportops.workspace import Workspace

log = logging.getLogger("supportops.webhooks")


class Dispatcher:
    def __init__(self, workspace: Workspace, interval: float = 0.5,
                 transport: Transport = urllib_transport) -> None:
        self.workspace = workspace
        self.interval = interval
        self.transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> dict[str, int]:
        """One pass over every tenant; returns the outcome counts."""
        totals = {"delivered": 0, "retrying": 0, "failed": 0}
        for info in self.workspace.tenants():
            counts = self.workspace.tenant(info.id).webhooks.deliver_due(self.transport)
            for key, value in counts.items():
                totals[key] += value
        return totals

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # a failing pass must not end deliveries for good
                log.exception("webhook delivery pass failed; trying again")
