"""Progress of long commands (embedding, ingest), on stderr, with rate and ETA.

On a terminal: a tqdm bar that redraws itself. Anywhere else (cron, systemd, a pipe) a bar
would be one endless line of carriage returns, so a plain line is printed instead every
``interval`` seconds (default ``LINE_SECONDS``; the first after one interval, so a short run
prints nothing), and a last line when the work ends, if any line was printed:

    embedding: 1,200/5,000 papers (24%), 85.3 papers/s, ETA 0:00:45
    embedding: done, 5,000 papers in 0:00:58 (86.2 papers/s)

Without a total, ``fraction`` (a callable: how much is done, 0 to 1, or None) gives the share
and the ETA (an ingest knows how far through its files it is, not how many records they
hold); without either, the lines have the count and the rate only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any, TypeVar

_T = TypeVar("_T")

LINE_SECONDS = 5.0


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts work done; shows it as a bar on a terminal, as a line every few seconds
    elsewhere. A context manager; ``update(n)`` after each piece of work."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        unit: str = "item",
        *,
        stream: IO[str] | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        fraction: Callable[[], float | None] | None = None,
    ) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval = LINE_SECONDS if interval is None else interval
        self.clock = clock
        self.fraction = fraction
        self.done = 0
        self.started = clock()
        self._next_line = self.started + self.interval
        self._lines = 0
        self._bar: Any = None
        if _is_terminal(self.stream):
            # lazy: the bar's library loads only where a terminal shows it
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, unit=f" {unit}", desc=what, file=self.stream, mininterval=0.5
            )

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self.clock()
        if now >= self._next_line:
            self._print(self._line(now))
            self._next_line = now + self.interval

    def wrap(self, items: Iterable[_T]) -> Iterator[_T]:
        """``items``, counting each one as it is taken."""
        for item in items:
            yield item
            self.update(1)

    def write(self, message: str) -> None:
        """A message (an error) on the same stream, without breaking the bar."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._lines:
            elapsed = max(self.clock() - self.started, 1e-9)
            self._print(
                f"{self.what}: done, {self.done:,} {self.unit}s in {_clock(elapsed)} "
                f"({self.done / elapsed:,.1f} {self.unit}s/s)"
            )
            self._lines = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        head = f"{self.what}: {self.done:,}"
        if self.total:
            share: float | None = self.done / self.total
            head += f"/{self.total:,}"
        else:
            share = self.fraction() if self.fraction is not None else None
        line = f"{head} {self.unit}s"
        if share is not None:
            line += f" ({int(100 * share)}%)"
        line += f", {rate:,.1f} {self.unit}s/s"
        if share:
            line += f", ETA {_clock(elapsed * (1 - min(share, 1.0)) / share)}"
        return line

    def _print(self, line: str) -> None:
        self._lines += 1
        print(line, file=self.stream, flush=True)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: no bar
        return False
