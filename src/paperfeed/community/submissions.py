"""Submitting a paper to today's list by arXiv id or arxiv.org URL.

Refused, each with its own message: a malformed id or a URL on another host; a paper
published more than ``PAPERFEED_SUBMISSION_WINDOW_DAYS`` ago; a paper already on today's list;
a user over ``PAPERFEED_SUBMISSION_DAILY_LIMIT`` submissions today. An unknown paper is fetched
from the arXiv API (``fetch_arxiv_papers``) and stored by the ingest pipeline first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from paperfeed.community import CommunityError
from paperfeed.community.users import Account
from paperfeed.config import Settings
from paperfeed.sources.arxiv_ids import parse_arxiv_id
from paperfeed.sources.atom import ArxivAPIError, fetch_arxiv_papers
from paperfeed.sources.pipeline import ingest_records
from paperfeed.sources.records import PaperRecord
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper, utcnow

Fetch = Callable[[Sequence[str], Settings], list[PaperRecord]]


@dataclass(frozen=True, slots=True)
class Submitted:
    arxiv_id: str
    day: dt.date
    title: str


def submit(
    db: Database,
    settings: Settings,
    account: Account,
    text: str,
    *,
    now: dt.datetime | None = None,
    fetch: Fetch = fetch_arxiv_papers,
) -> Submitted:
    text = (text or "").strip()
    try:
        arxiv_id, _version = parse_arxiv_id(text)
    except ValueError as exc:
        raise CommunityError(
            "That is not an arXiv id or arxiv.org link (e.g. 2501.01234 or "
            "https://arxiv.org/abs/2501.01234)."
        ) from exc
    now = now or utcnow()
    today = now.date()
    _check_daily_limit(db, settings, account, today)
    with db.read() as session:
        known = session.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id))
    if known is None:
        try:
            records = fetch([arxiv_id], settings)
        except ArxivAPIError as exc:
            raise CommunityError("arXiv could not be reached; try again in a minute.") from exc
        records = [r for r in records if r.arxiv_id == arxiv_id]
        if not records:
            raise CommunityError(f"arXiv has no paper {arxiv_id}.")
        ingest_records(db, records)
    with db.write() as session:
        paper = session.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
        if paper is None:  # pragma: no cover - the ingest just stored it
            raise CommunityError(f"arXiv has no paper {arxiv_id}.")
        window = dt.timedelta(days=settings.submission_window_days)
        if paper.published_at is not None and paper.published_at < now - window:
            raise CommunityError(
                f"{arxiv_id} was published on {paper.published_at:%Y-%m-%d}; papers can be "
                f"submitted within {settings.submission_window_days} days of publication."
            )
        on_list = session.scalar(
            select(func.count())
            .select_from(DailyEntry)
            .where(DailyEntry.paper_id == paper.id, DailyEntry.day == today)
        )
        if on_list:
            raise CommunityError(f"{arxiv_id} is already on today's list.")
        _check_daily_limit(db, settings, account, today, session=session)
        session.add(
            DailyEntry(
                paper_id=paper.id,
                day=today,
                submitted_at=now,
                submitted_by=account.username,
                source="user",
            )
        )
        title = paper.title
        try:
            session.flush()
        except IntegrityError as exc:
            raise CommunityError(f"{arxiv_id} is already on today's list.") from exc
    return Submitted(arxiv_id, today, title)


def _check_daily_limit(
    db: Database, settings: Settings, account: Account, today: dt.date, session: object = None
) -> None:
    stmt = (
        select(func.count())
        .select_from(DailyEntry)
        .where(
            DailyEntry.submitted_by == account.username,
            DailyEntry.source == "user",
            DailyEntry.day == today,
        )
    )
    from sqlalchemy.orm import Session

    if isinstance(session, Session):
        done = session.scalar(stmt) or 0
    else:
        with db.read() as s:
            done = s.scalar(stmt) or 0
    if done >= settings.submission_daily_limit:
        raise CommunityError(
            f"You have submitted {done} papers today, the daily limit; try again tomorrow."
        )


def feature(db: Database, arxiv_id: str, day: dt.date, by: str | None = None) -> None:
    """Admin: put a known paper on a day's list."""
    with db.write() as session:
        paper_id = session.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id))
        if paper_id is None:
            raise CommunityError(f"No paper {arxiv_id[:40]} on this site; submit it first.")
        exists = session.scalar(
            select(func.count())
            .select_from(DailyEntry)
            .where(DailyEntry.paper_id == paper_id, DailyEntry.day == day)
        )
        if exists:
            raise CommunityError(f"{arxiv_id} is already on the list of {day}.")
        session.add(DailyEntry(paper_id=paper_id, day=day, submitted_by=by, source="admin"))


def remove_entry(db: Database, arxiv_id: str, day: dt.date) -> None:
    """Admin: take a paper off a day's list."""
    with db.write() as session:
        entry = session.scalar(
            select(DailyEntry)
            .join(Paper, Paper.id == DailyEntry.paper_id)
            .where(Paper.arxiv_id == arxiv_id, DailyEntry.day == day)
        )
        if entry is None:
            raise CommunityError(f"{arxiv_id} is not on the list of {day}.")
        session.delete(entry)
