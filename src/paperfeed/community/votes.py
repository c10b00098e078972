"""Upvotes: one per user per paper. The vote row and ``papers.user_upvotes`` change in one
transaction, so the feed's live count (imported + user) is always the number of rows."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paperfeed.community import NotFound
from paperfeed.store.db import Database
from paperfeed.store.models import Paper, Upvote, utcnow

# Built once: the hot path runs these Core statements on the session's connection, so no
# statement is constructed or ORM-compiled per vote (that was about half of a vote's CPU).
_TABLE = cast(Table, Upvote.__table__)
_PAPER_ID = select(Paper.id).where(Paper.arxiv_id == bindparam("arxiv_id"))
_INSERT = {
    name: dialect_insert(_TABLE)
    .values(user_id=bindparam("uid"), paper_id=bindparam("pid"), created_at=bindparam("at"))
    .on_conflict_do_nothing()
    .returning(_TABLE.c.user_id)
    for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
_DELETE = (
    delete(_TABLE)
    .where(_TABLE.c.user_id == bindparam("uid"), _TABLE.c.paper_id == bindparam("pid"))
    .returning(_TABLE.c.user_id)
)
_PAPERS = cast(Table, Paper.__table__)
_BUMP = (
    update(_PAPERS)
    .where(_PAPERS.c.id == bindparam("pid"))
    .values(user_upvotes=_PAPERS.c.user_upvotes + bindparam("step"))
    .returning(_PAPERS.c.imported_upvotes + _PAPERS.c.user_upvotes)
)
_TOTAL = select(_PAPERS.c.imported_upvotes + _PAPERS.c.user_upvotes).where(
    _PAPERS.c.id == bindparam("pid")
)


def set_vote(db: Database, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool]:
    """Upvote (``up``) or take the vote back; idempotent. Returns (paper's upvotes, voted)."""
    with db.write() as session:
        conn = session.connection()
        paper_id = conn.execute(_PAPER_ID, {"arxiv_id": arxiv_id}).scalar()
        if paper_id is None:
            raise NotFound(f"No paper {arxiv_id[:40]} on this site.")
        ids = {"uid": user_id, "pid": paper_id}
        if up:
            stmt = _INSERT["sqlite" if db.is_sqlite else "postgresql"]
            changed = conn.execute(stmt, {**ids, "at": utcnow()}).first() is not None
        else:
            changed = conn.execute(_DELETE, ids).first() is not None
        # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
        if changed:
            total = conn.execute(_BUMP, {"pid": paper_id, "step": 1 if up else -1}).scalar_one()
        else:
            total = conn.execute(_TOTAL, {"pid": paper_id}).scalar_one()
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
