"""Authorship claims: a user says they are one of a paper's authors; an admin approves or
rejects. Approved papers appear on the user's profile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.community import CommunityError, Forbidden, found
from paperfeed.community.comments import paper_id_of
from paperfeed.community.users import Account
from paperfeed.store.db import Database
from paperfeed.store.models import AuthorshipClaim, Paper, User, utcnow

STATUSES = ("pending", "approved", "rejected")
MAX_PENDING = 20  # claims one user may have waiting for an admin (rate limit aside)


@dataclass(frozen=True, slots=True)
class ClaimView:
    id: int
    username: str
    arxiv_id: str
    title: str
    author_name: str
    status: str
    created_at: dt.datetime


def claim(db: Database, account: Account, arxiv_id: str, author_name: str) -> ClaimView:
    name = " ".join(author_name.split())
    try:
        with db.write() as session:
            paper_id = paper_id_of(session, arxiv_id)
            paper = session.get(Paper, paper_id)
            assert paper is not None
            if name not in paper.authors:
                raise CommunityError("Choose your name from the paper's author list.")
            _check_pending(session, account)
            row = AuthorshipClaim(user_id=account.id, paper_id=paper_id, author_name=name)
            session.add(row)
            session.flush()
            return ClaimView(
                row.id, account.username, arxiv_id, paper.title, name, row.status, row.created_at
            )
    except IntegrityError as exc:
        raise CommunityError("You have already claimed this paper.") from exc


def _check_pending(session: Session, account: Account) -> None:
    waiting = session.scalar(
        select(func.count())
        .select_from(AuthorshipClaim)
        .where(AuthorshipClaim.user_id == account.id, AuthorshipClaim.status == "pending")
    )
    if (waiting or 0) >= MAX_PENDING:
        raise CommunityError(
            f"You have {waiting} claims waiting for an admin; claim more once they are decided."
        )


def decide(db: Database, admin: Account, claim_id: int, approve: bool) -> None:
    if not admin.is_admin:
        raise Forbidden("Only admins decide claims.")
    with db.write() as session:
        row = found(session.get(AuthorshipClaim, claim_id), "No such claim.")
        row.status = "approved" if approve else "rejected"
        row.decided_at = utcnow()


def claims(
    db: Database,
    *,
    status: str | None = None,
    user_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ClaimView]:
    """Claims, newest first; ``limit``/``offset`` for a page of them."""
    stmt = (
        select(AuthorshipClaim, User.username, Paper.arxiv_id, Paper.title)
        .join(User, User.id == AuthorshipClaim.user_id)
        .join(Paper, Paper.id == AuthorshipClaim.paper_id)
        .order_by(AuthorshipClaim.created_at.desc(), AuthorshipClaim.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        stmt = stmt.where(AuthorshipClaim.status == status)
    if user_id is not None:
        stmt = stmt.where(AuthorshipClaim.user_id == user_id)
    with db.read() as session:
        return [
            ClaimView(c.id, username, arxiv_id, title, c.author_name, c.status, c.created_at)
            for c, username, arxiv_id, title in session.execute(stmt)
        ]


def claim_of(db: Database, user_id: int, arxiv_id: str) -> ClaimView | None:
    """The user's claim on the paper ``arxiv_id``, whatever its status, or None."""
    stmt = (
        select(AuthorshipClaim, User.username, Paper.arxiv_id, Paper.title)
        .join(User, User.id == AuthorshipClaim.user_id)
        .join(Paper, Paper.id == AuthorshipClaim.paper_id)
        .where(AuthorshipClaim.user_id == user_id, Paper.arxiv_id == arxiv_id)
    )
    with db.read() as session:
        row = session.execute(stmt).first()
    if row is None:
        return None
    c, username, found_id, title = row
    return ClaimView(c.id, username, found_id, title, c.author_name, c.status, c.created_at)


def count(db: Database, *, status: str | None = None) -> int:
    stmt = select(func.count()).select_from(AuthorshipClaim)
    if status:
        stmt = stmt.where(AuthorshipClaim.status == status)
    with db.read() as session:
        return session.scalar(stmt) or 0
