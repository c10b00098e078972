"""Upvotes: one per user per paper. The vote row and ``papers.user_upvotes`` change in one
transaction, so the feed's live count (imported + user) is always the number of rows."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Executable, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paperfeed.community import NotFound
from paperfeed.store.db import Database
from paperfeed.store.models import Paper, Upvote, utcnow


def set_vote(db: Database, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool]:
    """Upvote (``up``) or take the vote back; idempotent. Returns (paper's upvotes, voted)."""
    table = cast(Table, Upvote.__table__)
    stmt: Executable
    with db.write() as session:
        paper_id = session.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id))
        if paper_id is None:
            raise NotFound(f"No paper {arxiv_id[:40]} on this site.")
        if up:
            dialect_insert = sqlite.insert if db.is_sqlite else postgresql.insert
            stmt = (
                dialect_insert(table)
                .values(user_id=user_id, paper_id=paper_id, created_at=utcnow())
                .on_conflict_do_nothing()
                .returning(table.c.user_id)
            )
            step = 1
        else:
            stmt = (
                delete(Upvote)
                .where(Upvote.user_id == user_id, Upvote.paper_id == paper_id)
                .returning(Upvote.user_id)
            )
            step = -1
        # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
        changed = session.execute(stmt).first() is not None
        if changed:
            total = session.execute(
                update(Paper)
                .where(Paper.id == paper_id)
                .values(user_upvotes=Paper.user_upvotes + step)
                .returning(Paper.imported_upvotes + Paper.user_upvotes)
            ).scalar_one()
        else:
            total = session.execute(
                select(Paper.imported_upvotes + Paper.user_upvotes).where(Paper.id == paper_id)
            ).scalar_one()
        return int(total), up


def voted_ids(session: Session, user_id: int, arxiv_ids: list[str]) -> set[str]:
    """Which of ``arxiv_ids`` the user has upvoted."""
    if not arxiv_ids:
        return set()
    return set(
        session.scalars(
            select(Paper.arxiv_id)
            .join(Upvote, Upvote.paper_id == Paper.id)
            .where(Upvote.user_id == user_id, Paper.arxiv_id.in_(arxiv_ids))
        )
    )
