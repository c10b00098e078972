"""The site's secret key: ``PAPERFEED_SECRET_KEY``, else a random key generated once and kept
in ``site_meta`` so that every worker process (and every restart) signs with the same key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import SiteMeta

_META_KEY = "secret_key"
_cache: dict[str, bytes] = {}
_lock = threading.Lock()


def secret_key(db: Database, settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    with _lock:
        known = _cache.get(db.url)
        if known is not None:
            return known
        key = _load_or_create(db)
        _cache[db.url] = key
        return key


def _load_or_create(db: Database) -> bytes:
    with db.read() as session:
        value = session.scalar(select(SiteMeta.value).where(SiteMeta.key == _META_KEY))
    if value is None:
        try:
            with db.write() as session:
                session.add(SiteMeta(key=_META_KEY, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another worker made it first
        with db.read() as session:
            value = session.scalar(select(SiteMeta.value).where(SiteMeta.key == _META_KEY))
    assert value is not None
    return value.encode()


def forget_cached_keys() -> None:
    """For tests that drop and recreate databases under the same URL."""
    with _lock:
        _cache.clear()


def sign(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 of ``parts`` under ``key``, hex."""
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def digest(value: str) -> str:
    """SHA-256 hex: how session ids and API tokens are stored."""
    return hashlib.sha256(value.encode()).hexdigest()
