"""Rate limits with the ``limits`` library, counters shared by every worker process.

Storage: Redis when ``PAPERFEED_REDIS_URL`` is set, else the database
(:class:`DatabaseStorage`, one upserted row per key and window). Strategy: fixed window.
Limits are written in ``limits`` syntax (``5/minute``) and come from settings.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any, cast

from limits import RateLimitItem, parse
from limits.storage import RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import CursorResult, Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import RateLimitCounter


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
        dialect_insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        expired = table.c.expires_at <= now
        stmt = (
            dialect_insert(table)
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
            RedisStorage(settings.redis_url) if settings.redis_url else DatabaseStorage(db)
        )
        self.storage = storage
        self.limiter = FixedWindowRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}

    def item(self, rule: str) -> RateLimitItem:
        known = self._items.get(rule)
        if known is None:
            known = self._items[rule] = parse(rule)
        return known

    def hit(self, name: str, rule: str, *identifiers: str) -> bool:
        return self.limiter.hit(self.item(rule), "paperfeed", name, *map(short_key, identifiers))

    def clear(self, name: str, rule: str, *identifiers: str) -> None:
        self.limiter.clear(self.item(rule), "paperfeed", name, *map(short_key, identifiers))
