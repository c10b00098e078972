"""The private feed's secret: 32 random bytes (URL-safe base64, 43 characters) in the feed's
URL, shown once; only its SHA-256 (hex) is kept, in ``reader_prefs.feed_token_hash``. A new
token replaces the old one; revoking forgets it. As with API tokens (``community/tokens.py``),
a banned reader's token opens nothing."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select, update

from paperfeed.recommend.prefs import upsert_prefs
from paperfeed.store.db import Database
from paperfeed.store.models import User, utcnow
from paperfeed.store.reader_models import ReaderPrefs

TOKEN_BYTES = 32
_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def _hash(token: str) -> str:
    # community.keys.digest's SHA-256 hex: recommend sits below community, so not imported.
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed_token(db: Database, user_id: int) -> str:
    """A new secret for the reader's private feed (the old one stops working)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with db.write() as session:
        upsert_prefs(session, db.ops, user_id, feed_token_hash=_hash(token))
    return token


def revoke_feed_token(db: Database, user_id: int) -> None:
    """The reader's private feed stops working (nothing to do when it has no token)."""
    with db.write() as session:
        session.execute(
            update(ReaderPrefs)
            .where(ReaderPrefs.user_id == user_id, ReaderPrefs.feed_token_hash.is_not(None))
            .values(feed_token_hash=None, updated_at=utcnow())
        )


def user_for_feed_token(db: Database, token: str) -> int | None:
    """The reader whose live feed token this is, else None (unknown, revoked, malformed, or
    the reader is banned)."""
    if not isinstance(token, str) or not _SHAPE.fullmatch(token):
        return None
    with db.read() as session:
        return session.scalar(
            select(ReaderPrefs.user_id)
            .join(User, User.id == ReaderPrefs.user_id)
            .where(ReaderPrefs.feed_token_hash == _hash(token), User.is_banned.is_(False))
        )
