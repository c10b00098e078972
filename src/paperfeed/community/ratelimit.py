"""Rate limits with the ``limits`` library, counters shared by every worker process.

Storage: Redis when ``PAPERFEED_REDIS_URL`` is set, else the database
(:class:`DatabaseStorage`, one upserted row per key and window). Strategy: fixed window.
Limits are written in ``limits`` syntax (``5/minute``) and come from settings.

Redis down or hung: the limits fail open to an in-process counter (the same limits, counted
per worker) instead of answering 500. Redis gets ``REDIS_TIMEOUT_SECONDS`` to answer, without
retries; after a failure it is left alone for ``REDIS_RETRY_SECONDS``, so a hung Redis costs
one short wait per retry period, not seconds per request. A warning is logged once per outage.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import CursorResult, Table, case, delete, select
from sqlalchemy.exc import SQLAlchemyError

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import RateLimitCounter

T = TypeVar("T")

log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.5  # connect and read; Redis answers in well under a millisecond
REDIS_RETRY_SECONDS = 30.0  # after a failure, the in-process limiter counts this long


class DatabaseStorage(Storage):
    """A ``limits`` storage on the ``rate_limit_counters`` table (SQLite or PostgreSQL)."""

    STORAGE_SCHEME = None  # built directly, never from a URL

    def __init__(self, db: Database, **options: Any) -> None:
        super().__init__(uri=None, wrap_exceptions=False)
        self.db = db

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = cast(Table, RateLimitCounter.__table__)
        expired = table.c.expires_at <= now
        stmt = (
            self.db.ops.insert(table)
            .values(key=key, count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((expired, amount), else_=table.c.count + amount),
                    "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
                },
            )
            .returning(table.c.count)
        )
        with self.db.write() as session:
            count = int(session.execute(stmt).scalar_one())
            if random.random() < 0.01:  # now and then, forget finished windows
                session.execute(delete(RateLimitCounter).where(RateLimitCounter.expires_at < now))
        return count

    def _row(self, key: str) -> tuple[int, float] | None:
        with self.db.read() as session:
            row = session.execute(
                select(RateLimitCounter.count, RateLimitCounter.expires_at).where(
                    RateLimitCounter.key == key
                )
            ).first()
        if row is None or row[1] <= time.time():
            return None
        return int(row[0]), float(row[1])

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self.db.write() as session:
            result = cast(CursorResult[Any], session.execute(delete(RateLimitCounter)))
            return int(result.rowcount or 0)

    def clear(self, key: str) -> None:
        with self.db.write() as session:
            session.execute(delete(RateLimitCounter).where(RateLimitCounter.key == key))


def _redis_storage(url: str) -> RedisStorage:
    """Redis with short timeouts and no retries inside redis-py: the fallback decides."""
    # lazy: redis-py loads only where PAPERFEED_REDIS_URL is set
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options: dict[str, Any] = {
        "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), 0),
    }
    return RedisStorage(url, wrap_exceptions=True, **options)


def short_key(identifier: str) -> str:
    """``identifier``, or its SHA-256 when long: a counter's key must fit the 255 characters
    of ``rate_limit_counters.key`` (an address alone may have 254)."""
    if len(identifier) <= 64:
        return identifier
    return "sha256:" + hashlib.sha256(identifier.encode()).hexdigest()


class RateLimiter:
    """``hit(name, rule, *ids)``: True when allowed (and counted), False when over the limit."""

    def __init__(self, db: Database, settings: Settings) -> None:
        storage: Storage = (
            _redis_storage(settings.redis_url) if settings.redis_url else DatabaseStorage(db)
        )
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        # Used while Redis is unreachable (fail open, per worker); see the module docstring.
        self.local_storage = MemoryStorage()
        self.local = FixedWindowRateLimiter(self.local_storage)
        self._redis = settings.redis_url is not None
        self._down_until = 0.0  # time.monotonic() until which Redis is not tried
        self._state_lock = threading.Lock()
        self._items: dict[str, RateLimitItem] = {}

    def _redis_failed(self, exc: Exception) -> None:
        with self._state_lock:
            if self._down_until == 0.0:
                log.warning(
                    "Redis unreachable (%s): rate limits count per worker until it is back", exc
                )
            self._down_until = time.monotonic() + REDIS_RETRY_SECONDS

    def _redis_ok(self) -> None:
        if self._down_until:
            with self._state_lock:
                self._down_until = 0.0
            log.warning("Redis reachable again: rate limits are shared again")

    def item(self, rule: str) -> RateLimitItem:
        known = self._items.get(rule)
        if known is None:
            known = self._items[rule] = parse(rule)
        return known

    def hit(self, name: str, rule: str, *identifiers: str) -> bool:
        item, keys = self.item(rule), tuple(map(short_key, identifiers))
        return self._fail_open(
            lambda: self.limiter.hit(item, "paperfeed", name, *keys),
            lambda: self.local.hit(item, "paperfeed", name, *keys),
        )

    def counters(self, work: Callable[[Storage], T]) -> T:
        """``work(storage)`` on the shared counters, or on this worker's own while Redis is
        unreachable (the same fail-open as :meth:`hit`, for callers that keep raw counters)."""
        return self._fail_open(lambda: work(self.storage), lambda: work(self.local_storage))

    def clear(self, name: str, rule: str, *identifiers: str) -> None:
        item, keys = self.item(rule), tuple(map(short_key, identifiers))
        self.local.clear(item, "paperfeed", name, *keys)
        self._fail_open(lambda: self.limiter.clear(item, "paperfeed", name, *keys), lambda: None)

    def _fail_open(self, shared: Callable[[], T], local: Callable[[], T]) -> T:
        """``shared()`` on the shared counters; ``local()`` while Redis is down, or when it
        fails now (then it is left alone for ``REDIS_RETRY_SECONDS``). The database storage
        never fails open: its errors are the site's errors."""
        if self._redis and time.monotonic() < self._down_until:
            return local()
        try:
            result = shared()
        except StorageError as exc:
            if not self._redis:
                raise
            self._redis_failed(exc)
            return local()
        if self._redis:
            self._redis_ok()
        return result
