"""Papers by id: one paper with the days it was featured, papers by row id (search hits),
the papers a user submitted, and the simple keyword match."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.papers.ids import unversioned
from paperfeed.papers.items import (
    ENTRY_COLUMNS,
    PAPER_COLUMNS,
    UPVOTES,
    FeedItem,
    PaperDetail,
    item_from_row,
)
from paperfeed.store.dialect import Ops
from paperfeed.store.models import DailyEntry, Paper


def get_paper(session: Session, arxiv_id: str) -> PaperDetail | None:
    """One paper with the days it was featured; a versioned id finds the unversioned paper."""
    row = session.execute(
        select(*PAPER_COLUMNS, Paper.id).where(Paper.arxiv_id == arxiv_id)
    ).first()
    if row is None and unversioned(arxiv_id) != arxiv_id:
        row = session.execute(
            select(*PAPER_COLUMNS, Paper.id).where(Paper.arxiv_id == unversioned(arxiv_id))
        ).first()
    if row is None:
        return None
    item = item_from_row(tuple(row)[:-1])
    days = session.execute(
        select(*ENTRY_COLUMNS).where(DailyEntry.paper_id == row.id).order_by(DailyEntry.day)
    ).all()
    if days:
        item.day, item.submitted_at, item.submitted_by = days[-1]
    return PaperDetail(item=item, featured_days=[e.day for e in days])


def items_of(session: Session, arxiv_ids: Iterable[str]) -> list[FeedItem]:
    """The papers of ``arxiv_ids`` as :func:`get_paper` finds them, in that order; ids that
    name no paper are left out."""
    out = []
    for arxiv_id in arxiv_ids:
        detail = get_paper(session, arxiv_id)
        if detail is not None:
            out.append(detail.item)
    return out


def submitted_ids(session: Session, username: str, limit: int) -> list[str]:
    """The arXiv ids a user put on the daily lists (submissions, not imports), newest first."""
    return list(
        session.scalars(
            select(Paper.arxiv_id)
            .join(DailyEntry, DailyEntry.paper_id == Paper.id)
            .where(DailyEntry.submitted_by == username, DailyEntry.source == "user")
            .order_by(DailyEntry.submitted_at.desc())
            .limit(limit)
        )
    )


def items_by_paper_ids(
    session: Session, paper_ids: Iterable[int], ops: Ops | None = None
) -> dict[int, FeedItem]:
    """Papers by ``papers.id`` (for search hits); ids that are not in the database are absent.
    ``ops``: the database's, for its way of naming many ids (one array on PostgreSQL)."""
    ids = list(paper_ids)
    stmt = select(Paper.id, *PAPER_COLUMNS).where(
        ops.among(Paper.id, ids) if ops else Paper.id.in_(ids)
    )
    return {row[0]: item_from_row(tuple(row)[1:]) for row in session.execute(stmt)}


def search_items(session: Session, query: str, limit: int) -> list[FeedItem]:
    """Simple keyword search: every word must appear in the title or abstract (case-folded).

    The search issue replaces this with hybrid BM25 + semantic search."""
    words = [w for w in query.split() if w][:10]
    stmt = select(*PAPER_COLUMNS)
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        stmt = stmt.where(
            Paper.title.ilike(pattern, escape="\\") | Paper.abstract.ilike(pattern, escape="\\")
        )
    stmt = stmt.order_by(UPVOTES.desc(), Paper.published_at.desc(), Paper.arxiv_id).limit(limit)
    return [item_from_row(r) for r in session.execute(stmt)]


def count_papers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Paper)) or 0


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
