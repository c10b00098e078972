"""What a list shows of a paper: :class:`FeedItem` (and :class:`PaperDetail` for its page),
and the columns they are read from.

No ORM objects leave the read model: callers get these plain dataclasses, which they can
cache and serialise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select

from paperfeed.papers.ids import abs_url
from paperfeed.store.models import DailyEntry, Paper

# A select of any columns (SQLAlchemy 2.1 types Select by its row's tuple).
AnySelect = Select[*tuple[Any, ...]]

# Sorting a missing time (an item without a daily entry) sorts as the oldest.
EPOCH = dt.datetime(1970, 1, 1)


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
    media_urls: list[str] | None
    day: dt.date | None = None
    submitted_at: dt.datetime | None = None
    submitted_by: str | None = None
    score: float | None = None

    @property
    def arxiv_url(self) -> str:
        return abs_url(self.arxiv_id)

    @property
    def pdf_url(self) -> str:
        return f"https://arxiv.org/pdf/{self.arxiv_id}"


@dataclass(slots=True)
class PaperDetail:
    item: FeedItem
    featured_days: list[dt.date] = field(default_factory=list)


UPVOTES = (Paper.imported_upvotes + Paper.user_upvotes).label("upvotes")
_COMMENTS = (Paper.imported_comments + Paper.user_comments).label("num_comments")
# What a paper says about itself: its text, where it is filed and when it came out (the
# head of a feed item's row here, and of a keyword document's in search/keyword_schema.py).
DESCRIPTION_COLUMNS = (
    Paper.title,
    Paper.abstract,
    Paper.authors,
    Paper.categories,
    Paper.primary_category,
    Paper.published_at,
)
PAPER_COLUMNS = (
    Paper.arxiv_id,
    *DESCRIPTION_COLUMNS,
    Paper.updated_at,
    Paper.version,
    UPVOTES,
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
    Paper.media_urls,
)
ENTRY_COLUMNS = (DailyEntry.day, DailyEntry.submitted_at, DailyEntry.submitted_by)


def item_columns() -> tuple[Any, ...]:
    """The columns a :class:`FeedItem` is made of (``item_from_row`` reads them in this
    order), for a caller that selects them beside its own (search joins its hits back and
    takes the page's papers in the same statement; a collection adds when each was added)."""
    return PAPER_COLUMNS


def item_from_row(row: Sequence[Any]) -> FeedItem:
    """A :class:`FeedItem` from values of ``item_columns()`` (then, optionally, the entry
    columns: day, submitted at, submitted by), in order."""
    return FeedItem(*row)


def entries() -> AnySelect:
    """Daily entries with their papers' item columns (a :class:`FeedItem` per row)."""
    return select(*PAPER_COLUMNS, *ENTRY_COLUMNS).join(Paper, Paper.id == DailyEntry.paper_id)
