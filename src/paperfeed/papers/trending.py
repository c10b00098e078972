"""Papers by trending score (``ranking.py``): the trending list, and a period's papers in
trending order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.papers import ranking
from paperfeed.papers.items import EPOCH, FeedItem, entries, item_from_row
from paperfeed.store.models import DailyEntry, utcnow


def trending_items(
    session: Session,
    *,
    half_life_hours: float,
    window_days: int,
    now: dt.datetime | None = None,
    submitter: str | None = None,
) -> list[FeedItem]:
    """Papers by trending score (see ranking.py), best first; papers with no votes last.

    Each paper appears once, scored from its latest daily entry within the window."""
    newest = session.scalar(select(func.max(DailyEntry.submitted_at)))
    ref = ranking.reference_time(now or utcnow(), newest)
    since = ref - dt.timedelta(days=window_days)
    stmt = entries().where(DailyEntry.submitted_at >= since, DailyEntry.submitted_at <= ref)
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    return _by_trending(session.execute(stmt), ref, half_life_hours)


def period_trending_items(
    session: Session,
    start: dt.date,
    end: dt.date,
    *,
    half_life_hours: float,
    now: dt.datetime | None = None,
    submitter: str | None = None,
) -> list[FeedItem]:
    """Papers featured in [start, end), each once, by trending score, best first.

    The score is taken at the newest submission in the period (or ``now`` if earlier), so an
    old week ranks as it trended at its end rather than every score decaying towards 0."""
    stmt = entries().where(DailyEntry.day >= start, DailyEntry.day < end)
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    rows = session.execute(stmt).all()
    newest = max((r.submitted_at for r in rows if r.submitted_at is not None), default=None)
    ref = ranking.reference_time(now or utcnow(), newest)
    return _by_trending(rows, ref, half_life_hours)


def _by_trending(rows: Iterable[Any], ref: dt.datetime, half_life_hours: float) -> list[FeedItem]:
    latest: dict[str, FeedItem] = {}
    for row in rows:
        item = item_from_row(row)
        known = latest.get(item.arxiv_id)
        if known is None or (item.submitted_at or EPOCH) > (known.submitted_at or EPOCH):
            latest[item.arxiv_id] = item
    for item in latest.values():
        item.score = ranking.trending_score(
            item.upvotes, item.submitted_at or ref, ref, half_life_hours
        )
    return sorted(
        latest.values(),
        key=lambda i: ranking.trending_sort_key(
            i.score or 0.0, i.submitted_at or EPOCH, i.arxiv_id
        ),
    )
