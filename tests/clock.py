"""A clock that moves only when a test moves it, for code that takes a clock (the API's key
check: ``create_app(clock=...)``): time-to-live tests advance it instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from supportops.api.deps import Clock


class ManualClock(Clock):
    """Starts at the real time and stands still until :meth:`advance`."""

    def __init__(self) -> None:
        self._monotonic = time.monotonic()
        self._now = datetime.now(UTC)

    def monotonic(self) -> float:
        return self._monotonic

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a clock does not go back"
        self._monotonic += seconds
        self._now += timedelta(seconds=seconds)

    def advance_past(self, instant: datetime) -> None:
        """Move on to just after ``instant`` (which must not lie behind)."""
        self.advance((instant - self._now).total_seconds() + 0.001)
