"""A tiny per-process TTL cache for rendered responses.

Feed pages and API lists are read far more often than they change. Each worker keeps the answers
it rendered (a :class:`CachedPage`: status, media type, body, headers) for
``PAPERFEED_CACHE_SECONDS`` (default 2 s): a new upvote or ingest shows up at most that late
(plus one render, where a stale entry is served while it refreshes), and a busy day page costs
one query per worker per period instead of one per request. Nothing here is shared between
processes, so it needs no invalidation protocol.

``compute`` (for async routes) renders a miss in the thread pool, once per key at a time,
and keeps serving an entry past its time (for up to ``STALE_FACTOR`` times the TTL) while one
refresh runs in the background (stale-while-revalidate). Why: a page rendered on the event
loop stalls every other request of the worker while it runs, and on PostgreSQL that includes
its database round trips to a server that shares the cores. On SQLite (no round trips) pages
render on the loop: a thread trading the GIL with a busy loop delayed votes more (p99 under
a read flood 25-41 ms against 10-27 ms, benchmarks/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Send

T = TypeVar("T")
log = logging.getLogger(__name__)
STALE_FACTOR = 10


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class CachedPage:
    """A rendered answer as the cache keeps it. A route answers ``response()``, and so does a
    shortcut that finds it in front of the router (``cached_pages.py``): the same answer.
    An error (``status`` 400 or more) of the JSON API holds its message as ``body``: the route
    raises it, so that it is answered like every other error (``errors.py``)."""

    status: int
    media_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    # The response's header lines, made once: a cache hit sends them without building a
    # Response (``send``).
    raw_headers: tuple[tuple[bytes, bytes], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw_headers", tuple(self.response().raw_headers))

    def response(self) -> Response:
        return Response(
            self.body,
            status_code=self.status,
            media_type=self.media_type,
            headers=dict(self.headers) if self.headers else None,
        )

    async def send(self, send: Send) -> None:
        """Answer on the ASGI channel exactly as ``response()`` does (a fresh list of header
        lines each time: middlewares add theirs to it)."""
        start = {"type": "http.response.start", "status": self.status}
        await send({**start, "headers": list(self.raw_headers)})
        await send({"type": "http.response.body", "body": self.body})

    @property
    def message(self) -> str:
        """The body as text (an error's message)."""
        return self.body.decode()


class TTLCache(Generic[T]):
    """Entries live ``ttl_seconds``; the least recently used go first when there are more
    than ``max_entries`` or, for ``bytes`` and :class:`CachedPage` values, more than
    ``max_bytes`` (of bodies) in all."""

    def __init__(
        self, ttl_seconds: float, max_entries: int = 512, max_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # ``compute``: the computations in flight (event-loop side only), and the background
        # refreshes (referenced until done, so they are not collected midway).
        self._inflight: dict[Hashable, asyncio.Future[T]] = {}
        self._refreshes: set[asyncio.Task[T]] = set()

    def get(self, key: Hashable) -> T | None:
        """The live value for ``key``, or None."""
        value, fresh = self.peek(key)
        return value if fresh else None

    def peek(self, key: Hashable) -> tuple[T | None, bool]:
        """``(value, fresh)``: the value while it lives or has been stale for less than
        ``STALE_FACTOR`` times the TTL, and whether it is still live; ``(None, False)``."""
        if self.ttl <= 0:
            return None, False
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None, False
            now = _now()
            if hit[0] + self.ttl * (STALE_FACTOR - 1) <= now:
                return None, False
            self._data.move_to_end(key)
            return hit[1], hit[0] > now

    def discard(self, key: Hashable) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= _size(old[1])

    async def compute(
        self, key: Hashable, compute: Callable[[], T], *, in_thread: bool = True
    ) -> T:
        """The value for ``key``: live from the cache; stale from the cache while one
        refresh runs in the background; else ``compute()`` in the thread pool, once per key
        at a time (concurrent misses wait for the same computation). A refresh that fails
        drops the entry (the next request computes it and sees the error).

        ``in_thread=False``: a value that is not live is computed here, on the event loop,
        for work that never waits (SQLite in process): on a busy loop one short stall
        delayed the other requests less than a thread trading the GIL with the loop did."""
        if not in_thread:
            value = self.get(key)
            if value is None:
                value = compute()
                self.set(key, value)
            return value
        if self.ttl <= 0:
            return await run_in_threadpool(compute)
        value, fresh = self.peek(key)
        if value is not None:
            if not fresh and key not in self._inflight:
                task = asyncio.get_running_loop().create_task(self._compute_once(key, compute))
                self._refreshes.add(task)
                task.add_done_callback(self._refreshed(key))
            return value
        return await self._compute_once(key, compute)

    def _refreshed(self, key: Hashable) -> Callable[[asyncio.Task[T]], None]:
        def done(task: asyncio.Task[T]) -> None:
            self._refreshes.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.warning("refreshing a cached response failed: %r", task.exception())
                self.discard(key)

        return done

    async def _compute_once(self, key: Hashable, compute: Callable[[], T]) -> T:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await run_in_threadpool(compute)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # mark it retrieved: nobody else may be waiting
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(value)
        self.set(key, value)
        return value

    def set(self, key: Hashable, value: T) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= _size(old[1])
            self._data[key] = (_now() + self.ttl, value)
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
        """Forget every entry (a change that must show at once: an admin's edit)."""
        with self._lock:
            self._data.clear()
            self._bytes = 0


class PageCache(TTLCache[CachedPage]):
    """The app's cache of rendered answers (``deps.cache_of``), with the few facts about the
    site that every page shows beside them (``flags``: the demo banner), cleared together."""

    def __init__(self, ttl_seconds: float) -> None:
        super().__init__(ttl_seconds)
        self.flags = TTLCache[bool](ttl_seconds)

    def clear(self) -> None:
        super().clear()
        self.flags.clear()


def _size(value: object) -> int:
    if isinstance(value, CachedPage):
        return len(value.body)
    return len(value) if isinstance(value, bytes | bytearray | str) else 0
