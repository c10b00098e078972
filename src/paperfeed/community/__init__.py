"""The community: accounts, sessions, votes, submissions, comments, claims, collections and
API tokens. Domain logic only (no HTTP): ``paperfeed.web`` calls these functions.

Functions take a :class:`~paperfeed.store.db.Database` and return plain dataclasses; no ORM
object leaves this package. Errors a user can fix raise :class:`CommunityError` (or a
subclass) whose message is shown to them as is.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

# C0 control characters but tab and newline, DEL, and NUL (which PostgreSQL text refuses).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """User text without control characters (tabs and newlines kept, CRLF made LF)."""
    return _CONTROL.sub("", (value or "").replace("\r\n", "\n"))


class CommunityError(ValueError):
    """Something the user asked for cannot be done; the message says why."""


class NotFound(CommunityError):
    """No such object, or not one this user may see or change (never tells which)."""


class Forbidden(CommunityError):
    """The object exists and is visible, but this user may not change it."""


def http_status(exc: CommunityError) -> int:
    """The HTTP status a refused request gets (app.py maps every uncaught CommunityError)."""
    return 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Forbidden) else 400


def found(row: T | None, message: str) -> T:
    """``row``; NotFound with ``message`` when there is none."""
    if row is None:
        raise NotFound(message)
    return row


def page_of(
    session: Session, stmt: Select[*tuple[Any, ...]], limit: int, offset: int
) -> tuple[int, list[Any]]:
    """(how many rows ``stmt`` selects, and the ``limit`` of them from ``offset``): a page of
    an admin's list with its count."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    return total or 0, list(session.execute(stmt.limit(limit).offset(offset)).all())
