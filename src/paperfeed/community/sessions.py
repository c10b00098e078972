"""Server-side sessions. The cookie holds 32 random bytes; the table holds their SHA-256, so
a copy of the database cannot be replayed as logins. Logging in always makes a new session
(no fixation); logging out deletes it; "log out everywhere" deletes all of a user's."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select

from paperfeed.community.keys import digest
from paperfeed.community.users import Account
from paperfeed.store.db import Database
from paperfeed.store.models import User, UserSession, utcnow


def create_session(db: Database, account: Account, days: int) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.write() as session:
        session.add(
            UserSession(
                id=digest(token),
                user_id=account.id,
                created_at=now,
                expires_at=now + dt.timedelta(days=days),
            )
        )
        # Old expired sessions of this user go at each login.
        session.execute(
            delete(UserSession).where(
                UserSession.user_id == account.id, UserSession.expires_at < now
            )
        )
    return token


def session_account(db: Database, token: str) -> Account | None:
    if not token or len(token) > 128:
        return None
    with db.read() as session:
        row = session.execute(
            select(User.id, User.username, User.email, User.is_admin, User.is_banned)
            .join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.id == digest(token), UserSession.expires_at > utcnow())
        ).first()
    if row is None or row.is_banned:
        return None
    return Account(row.id, row.username, row.email, row.is_admin, row.is_banned)


def end_session(db: Database, token: str) -> None:
    with db.write() as session:
        session.execute(delete(UserSession).where(UserSession.id == digest(token)))


def end_all_sessions(db: Database, user_id: int) -> None:
    with db.write() as session:
        session.execute(delete(UserSession).where(UserSession.user_id == user_id))
