"""Time as the delivery code sees it: real, or controlled by tests."""

from __future__ import annotations

import datetime as dt
import time


class Clock:
    """Naive-UTC ``now()`` and ``sleep()``: the only way delivery code reads or waits for time."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
    """A clock that only moves when told to (or when slept on)."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._mono = 0.0
        self.slept: list[float] = []

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += dt.timedelta(seconds=seconds)
        self._mono += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.advance(seconds)
