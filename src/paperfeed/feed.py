"""What the feed shows: days, weeks, months, trending, recent and single papers.

The data-access layer shared by the HTML pages, the JSON API and the RSS/Atom feeds. It returns
plain dataclasses (no ORM objects leave this module), so callers can cache and serialise them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from paperfeed import ranking

# The period grammar lives with every other request value's; re-exported for callers.
from paperfeed.params import BadPeriod as BadPeriod
from paperfeed.params import parse_day as parse_day
from paperfeed.params import parse_month as parse_month
from paperfeed.params import parse_week as parse_week
from paperfeed.store.models import DailyEntry, Paper, utcnow

# A select of any columns (SQLAlchemy 2.1 types Select by its row's tuple).
AnySelect = Select[*tuple[Any, ...]]


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(slots=True)
class FeedItem:
    """One paper as a list shows it, with the daily entry that put it there."""

    arxiv_id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    primary_category: str | None
    published_at: dt.datetime | None
    updated_at: dt.datetime | None
    version: int | None
    upvotes: int
    num_comments: int
    github_repo: str | None
    github_stars: int | None
    project_page: str | None
    ai_summary: str | None
    ai_keywords: list[str] | None
    organization: str | None
    comment: str | None
    journal_ref: str | None
    doi: str | None
    license: str | None
    day: dt.date | None = None
    submitted_at: dt.datetime | None = None
    submitted_by: str | None = None
    score: float | None = None

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


@dataclass(slots=True)
class PaperDetail:
    item: FeedItem
    featured_days: list[dt.date] = field(default_factory=list)


_UPVOTES = (Paper.imported_upvotes + Paper.user_upvotes).label("upvotes")
_COMMENTS = (Paper.imported_comments + Paper.user_comments).label("num_comments")
_PAPER_COLUMNS = (
    Paper.arxiv_id,
    Paper.title,
    Paper.abstract,
    Paper.authors,
    Paper.categories,
    Paper.primary_category,
    Paper.published_at,
    Paper.updated_at,
    Paper.version,
    _UPVOTES,
    _COMMENTS,
    Paper.github_repo,
    Paper.github_stars,
    Paper.project_page,
    Paper.ai_summary,
    Paper.ai_keywords,
    Paper.organization,
    Paper.comment,
    Paper.journal_ref,
    Paper.doi,
    Paper.license,
)
_ENTRY_COLUMNS = (DailyEntry.day, DailyEntry.submitted_at, DailyEntry.submitted_by)


def _item(row: Any) -> FeedItem:
    return FeedItem(*row)


def _entries() -> AnySelect:
    return select(*_PAPER_COLUMNS, *_ENTRY_COLUMNS).join(Paper, Paper.id == DailyEntry.paper_id)


def _daily_order(stmt: AnySelect) -> AnySelect:
    return stmt.order_by(_UPVOTES.desc(), DailyEntry.submitted_at.asc(), Paper.arxiv_id.asc())


def latest_day(session: Session) -> dt.date | None:
    return session.scalar(select(func.max(DailyEntry.day)))


def day_items(session: Session, day: dt.date, submitter: str | None = None) -> list[FeedItem]:
    stmt = _entries().where(DailyEntry.day == day)
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    return [_item(r) for r in session.execute(_daily_order(stmt))]


def period_items(
    session: Session, start: dt.date, end: dt.date, submitter: str | None = None
) -> list[FeedItem]:
    """Papers featured in [start, end), each once (its first day in the period), best first."""
    stmt = _entries().where(DailyEntry.day >= start, DailyEntry.day < end)
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    seen: set[str] = set()
    items: list[FeedItem] = []
    for row in session.execute(stmt.order_by(DailyEntry.day.asc())):
        if row.arxiv_id not in seen:
            seen.add(row.arxiv_id)
            items.append(_item(row))
    items.sort(
        key=lambda i: ranking.daily_sort_key(i.upvotes, i.submitted_at or _EPOCH, i.arxiv_id)
    )
    return items


def recent_items(
    session: Session, offset: int, limit: int, submitter: str | None = None
) -> list[FeedItem]:
    """Daily entries, newest submission first (the API's default order)."""
    stmt = _entries()
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    stmt = (
        stmt.order_by(DailyEntry.submitted_at.desc(), _UPVOTES.desc(), Paper.arxiv_id.asc())
        .offset(offset)
        .limit(limit)
    )
    return [_item(r) for r in session.execute(stmt)]


def adjacent_days(session: Session, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The nearest earlier and later days that have papers (weekends are skipped)."""
    prev_day = session.scalar(select(func.max(DailyEntry.day)).where(DailyEntry.day < day))
    next_day = session.scalar(select(func.min(DailyEntry.day)).where(DailyEntry.day > day))
    return prev_day, next_day


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
    stmt = _entries().where(DailyEntry.submitted_at >= since, DailyEntry.submitted_at <= ref)
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
    stmt = _entries().where(DailyEntry.day >= start, DailyEntry.day < end)
    if submitter:
        stmt = stmt.where(DailyEntry.submitted_by == submitter)
    rows = session.execute(stmt).all()
    newest = max((r.submitted_at for r in rows if r.submitted_at is not None), default=None)
    ref = ranking.reference_time(now or utcnow(), newest)
    return _by_trending(rows, ref, half_life_hours)


def _by_trending(rows: Iterable[Any], ref: dt.datetime, half_life_hours: float) -> list[FeedItem]:
    latest: dict[str, FeedItem] = {}
    for row in rows:
        item = _item(row)
        known = latest.get(item.arxiv_id)
        if known is None or (item.submitted_at or _EPOCH) > (known.submitted_at or _EPOCH):
            latest[item.arxiv_id] = item
    for item in latest.values():
        item.score = ranking.trending_score(
            item.upvotes, item.submitted_at or ref, ref, half_life_hours
        )
    return sorted(
        latest.values(),
        key=lambda i: ranking.trending_sort_key(
            i.score or 0.0, i.submitted_at or _EPOCH, i.arxiv_id
        ),
    )


def newest_first(items: list[FeedItem]) -> list[FeedItem]:
    """``items`` re-ordered newest submission first (ties: more upvotes, then arXiv id)."""
    return sorted(
        items,
        key=lambda i: ranking.newest_sort_key(i.submitted_at or _EPOCH, i.upvotes, i.arxiv_id),
    )


_VERSIONED_ID_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Za-z-]+)?/\d{7})v\d+$")


def unversioned_id(arxiv_id: str) -> str:
    """``2501.01234v2`` → ``2501.01234``; ``hep-th/9901001v1`` → ``hep-th/9901001``."""
    m = _VERSIONED_ID_RE.match(arxiv_id)
    return m[1] if m else arxiv_id


def get_paper(session: Session, arxiv_id: str) -> PaperDetail | None:
    """One paper with the days it was featured; a versioned id finds the unversioned paper."""
    row = session.execute(
        select(*_PAPER_COLUMNS, Paper.id).where(Paper.arxiv_id == arxiv_id)
    ).first()
    if row is None and unversioned_id(arxiv_id) != arxiv_id:
        row = session.execute(
            select(*_PAPER_COLUMNS, Paper.id).where(Paper.arxiv_id == unversioned_id(arxiv_id))
        ).first()
    if row is None:
        return None
    item = _item(tuple(row)[:-1])
    entries = session.execute(
        select(*_ENTRY_COLUMNS).where(DailyEntry.paper_id == row.id).order_by(DailyEntry.day)
    ).all()
    if entries:
        item.day, item.submitted_at, item.submitted_by = entries[-1]
    return PaperDetail(item=item, featured_days=[e.day for e in entries])


def search_items(session: Session, query: str, limit: int) -> list[FeedItem]:
    """Simple keyword search: every word must appear in the title or abstract (case-folded).

    The search issue replaces this with hybrid BM25 + semantic search."""
    words = [w for w in query.split() if w][:10]
    stmt = select(*_PAPER_COLUMNS)
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        stmt = stmt.where(
            Paper.title.ilike(pattern, escape="\\") | Paper.abstract.ilike(pattern, escape="\\")
        )
    stmt = stmt.order_by(_UPVOTES.desc(), Paper.published_at.desc(), Paper.arxiv_id).limit(limit)
    return [_item(r) for r in session.execute(stmt)]


def item_columns() -> tuple[Any, ...]:
    """The columns a :class:`FeedItem` is made of (``item_from_row`` reads them in this
    order), for a caller that selects them beside its own (search joins its hits back and
    takes the page's papers in the same statement)."""
    return _PAPER_COLUMNS


def item_from_row(row: Sequence[Any]) -> FeedItem:
    """A :class:`FeedItem` from values of ``item_columns()``, in order."""
    return _item(tuple(row))


def items_by_paper_ids(session: Session, paper_ids: Iterable[int]) -> dict[int, FeedItem]:
    """Papers by ``papers.id`` (for search hits); ids that are not in the database are absent."""
    stmt = select(Paper.id, *_PAPER_COLUMNS).where(Paper.id.in_(list(paper_ids)))
    return {row[0]: _item(tuple(row)[1:]) for row in session.execute(stmt)}


def count_papers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Paper)) or 0


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_EPOCH = dt.datetime(1970, 1, 1)
