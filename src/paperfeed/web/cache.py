"""A tiny per-process TTL cache for rendered responses.

Feed pages and API lists are read far more often than they change. Each worker keeps the bytes
it rendered for ``PAPERFEED_CACHE_SECONDS`` (default 2 s): a new upvote or ingest shows up at
most that late, and a busy day page costs one query per worker per period instead of one per
request. Nothing here is shared between processes, so it needs no invalidation protocol.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class TTLCache(Generic[T]):
    """Entries live ``ttl_seconds``; the least recently used go first when there are more
    than ``max_entries`` or, for ``bytes`` values, more than ``max_bytes`` in all."""

    def __init__(
        self, ttl_seconds: float, max_entries: int = 512, max_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        """The live value for ``key``, or None."""
        if self.ttl <= 0:
            return None
        with self._lock:
            hit = self._data.get(key)
            if hit is None or hit[0] <= time.monotonic():
                return None
            self._data.move_to_end(key)
            return hit[1]

    def set(self, key: Hashable, value: T) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= _size(old[1])
            self._data[key] = (time.monotonic() + self.ttl, value)
            self._bytes += _size(value)
            while self._data and (
                len(self._data) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, (_, evicted) = self._data.popitem(last=False)
                self._bytes -= _size(evicted)

    def get_or_set(self, key: Hashable, compute: Callable[[], T]) -> T:
        hit = self.get(key)
        if hit is not None:
            return hit
        value = compute()
        self.set(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


def _size(value: object) -> int:
    return len(value) if isinstance(value, bytes | bytearray | str) else 0
