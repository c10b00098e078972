"""Papers by the day they were featured: one day, a period (week, month), the latest days,
and the newest entries (the API's default order). Each list is in the daily order of
``ranking.py`` unless it says otherwise."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.papers import ranking
from paperfeed.papers.items import EPOCH, UPVOTES, AnySelect, FeedItem, entries, item_from_row
from paperfeed.store.models import DailyEntry, Paper


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _daily_order(stmt: AnySelect) -> AnySelect:
    return stmt.order_by(UPVOTES.desc(), DailyEntry.submitted_at.asc(), Paper.arxiv_id.asc())


def latest_day(session: Session) -> dt.date | None:
    return session.scalar(select(func.max(DailyEntry.day)))


def latest_days(session: Session, n: int) -> list[dt.date]:
    """The ``n`` latest days that have papers, newest first."""
    stmt = select(DailyEntry.day).distinct().order_by(DailyEntry.day.desc()).limit(n)
    return list(session.scalars(stmt))


def adjacent_days(session: Session, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The nearest earlier and later days that have papers (weekends are skipped)."""
    prev_day = session.scalar(select(func.max(DailyEntry.day)).where(DailyEntry.day < day))
    next_day = session.scalar(select(func.min(DailyEntry.day)).where(DailyEntry.day > day))
    return prev_day, next_day


def day_items(session: Session, day: dt.date, submitter: str | None = None) -> list[FeedItem]:
    stmt = entries().where(DailyEntry.day == day)
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    return [item_from_row(r) for r in session.execute(_daily_order(stmt))]


def period_items(
    session: Session, start: dt.date, end: dt.date, submitter: str | None = None
) -> list[FeedItem]:
    """Papers featured in [start, end), each once (its first day in the period), best first."""
    stmt = entries().where(DailyEntry.day >= start, DailyEntry.day < end)
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    seen: set[str] = set()
    items: list[FeedItem] = []
    for row in session.execute(stmt.order_by(DailyEntry.day.asc())):
        if row.arxiv_id not in seen:
            seen.add(row.arxiv_id)
            items.append(item_from_row(row))
    items.sort(key=lambda i: ranking.daily_sort_key(i.upvotes, i.submitted_at or EPOCH, i.arxiv_id))
    return items


def recent_items(
    session: Session, offset: int, limit: int, submitter: str | None = None
) -> list[FeedItem]:
    """Daily entries, newest submission first (the API's default order)."""
    stmt = entries()
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    stmt = (
        stmt.order_by(DailyEntry.submitted_at.desc(), UPVOTES.desc(), Paper.arxiv_id.asc())
        .offset(offset)
        .limit(limit)
    )
    return [item_from_row(r) for r in session.execute(stmt)]


def newest_first(items: list[FeedItem]) -> list[FeedItem]:
    """``items`` re-ordered newest submission first (ties: more upvotes, then arXiv id)."""
    return sorted(
        items,
        key=lambda i: ranking.newest_sort_key(i.submitted_at or EPOCH, i.upvotes, i.arxiv_id),
    )
