"""Submitting a paper to today's list by arXiv id or arxiv.org URL.

Refused, each with its own message: a malformed id or a URL on another host; a paper
published more than ``PAPERFEED_SUBMISSION_WINDOW_DAYS`` ago; a paper already on today's list;
a user over ``PAPERFEED_SUBMISSION_DAILY_LIMIT`` submissions today.

A paper already on the site is added at once (:func:`start` returns :class:`Submitted`). An
unknown one is an arXiv fetch, which may take long (arXiv is slow, or retried): :func:`start`
records the attempt and returns :class:`Pending`, and :class:`SubmissionFetcher` fetches it in
the background, off the request path, within ``PAPERFEED_SUBMISSION_FETCH_SECONDS``. Every
submission that adds a paper or asks arXiv counts toward the daily limit, failed ones too;
running fetches are capped per user and site-wide (:class:`SubmissionsBusy`, a 429). The
counts are rows of ``submission_attempts``, so every worker process agrees on them.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.community import CommunityError
from paperfeed.community.users import Account
from paperfeed.config import Settings
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.sources.atom import ArxivAPIError, fetch_arxiv_papers
from paperfeed.sources.pipeline import ingest_records
from paperfeed.sources.records import PaperRecord
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper, SubmissionAttempt, utcnow

log = logging.getLogger(__name__)

Fetch = Callable[[Sequence[str], Settings], list[PaperRecord]]
FETCHING, ADDED, FAILED = "fetching", "added", "failed"
# A fetch still "fetching" this long after its deadline died with its process: not counted.
STALE_AFTER_DEADLINE = dt.timedelta(seconds=60)
_SERIALISE_KEY = 0x5355424D  # "SUBM": the counting of attempts serialises on it


class SubmissionsBusy(CommunityError):
    """Too many arXiv fetches running (this user's or the site's): try again shortly (429)."""


@dataclass(frozen=True, slots=True)
class Submitted:
    arxiv_id: str
    day: dt.date
    title: str
    attempt_id: int  # its row of submission_attempts (the status page's id)


@dataclass(frozen=True, slots=True)
class Pending:
    """An unknown paper: counted, and to be fetched from arXiv in the background."""

    attempt_id: int
    arxiv_id: str
    day: dt.date
    username: str


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: int
    arxiv_id: str
    day: dt.date
    status: str  # fetching, added or failed
    message: str | None
    created_at: dt.datetime
    title: str | None = None  # the paper's, once the site has it


def submit(
    db: Database,
    settings: Settings,
    account: Account,
    text: str,
    *,
    now: dt.datetime | None = None,
    fetch: Fetch = fetch_arxiv_papers,
) -> Submitted:
    """:func:`start`, then for an unknown paper its fetch right here (CLI and tests)."""
    outcome = start(db, settings, account, text, now=now)
    return complete(db, settings, outcome, fetch) if isinstance(outcome, Pending) else outcome


def start(
    db: Database, settings: Settings, account: Account, text: str, *, now: dt.datetime | None = None
) -> Submitted | Pending:
    """Add a known paper now, or count an unknown one's fetch and return it as Pending."""
    arxiv_id = _parse(text)
    now = now or utcnow()
    today = now.date()
    with db.write() as session:
        _serialise_counting(db, session)
        _check_daily_limit(session, settings, account, today)
        paper = session.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
        if paper is not None:
            title = _add_entry(session, settings, paper, account.username, today, now)
            added = _attempt(account, arxiv_id, today, now, ADDED)
            session.add(added)
            session.flush()
            return Submitted(arxiv_id, today, title, added.id)
        _check_fetches(session, settings, account, arxiv_id, now)
        row = _attempt(account, arxiv_id, today, now, FETCHING)
        session.add(row)
        session.flush()
        return Pending(row.id, arxiv_id, today, account.username)


def complete(db: Database, settings: Settings, pending: Pending, fetch: Fetch) -> Submitted:
    """Fetch a pending paper from arXiv and add it; the outcome is recorded on its attempt."""
    try:
        done = _fetch_and_add(db, settings, pending, fetch)
    except CommunityError as exc:
        _finish(db, pending.attempt_id, FAILED, str(exc))
        raise
    except Exception:
        log.exception("submission %s: fetching %s failed", pending.attempt_id, pending.arxiv_id)
        _finish(db, pending.attempt_id, FAILED, "Something went wrong; try again later.")
        raise
    _finish(db, pending.attempt_id, ADDED, None)
    return done


def attempts(db: Database, settings: Settings, user_id: int, day: dt.date) -> list[AttemptView]:
    """A user's submissions of ``day``, newest first (a fetch lost with its process: failed)."""
    stmt = (
        select(SubmissionAttempt)
        .where(SubmissionAttempt.user_id == user_id, SubmissionAttempt.day == day)
        .order_by(SubmissionAttempt.id.desc())
    )
    with db.read() as session:
        rows = list(session.scalars(stmt))
        titles = _titles(session, [row.arxiv_id for row in rows])
        return [_view(settings, row, titles.get(row.arxiv_id)) for row in rows]


def attempt(db: Database, settings: Settings, user_id: int, attempt_id: int) -> AttemptView | None:
    """One of this user's submissions (None for another user's: they may not see it)."""
    with db.read() as session:
        row = session.get(SubmissionAttempt, attempt_id)
        if row is None or row.user_id != user_id:
            return None
        return _view(settings, row, _titles(session, [row.arxiv_id]).get(row.arxiv_id))


def _titles(session: Session, arxiv_ids: Sequence[str]) -> dict[str, str]:
    """The titles of those of ``arxiv_ids`` the site has."""
    if not arxiv_ids:
        return {}
    stmt = select(Paper.arxiv_id, Paper.title).where(Paper.arxiv_id.in_(set(arxiv_ids)))
    return {arxiv_id: title for arxiv_id, title in session.execute(stmt)}


class SubmissionFetcher:
    """Runs the arXiv fetches of :class:`Pending` submissions off the request path, on at most
    ``submission_fetches`` threads (the caps themselves are counted in the database by
    :func:`start`, so this pool never queues for long). ``on_added`` runs after each paper
    added (the web app clears its page cache)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        on_added: Callable[[], None] = lambda: None,
        fetch: Fetch | None = None,
    ) -> None:
        self.db, self.settings, self.on_added = db, settings, on_added
        self.fetch: Fetch = fetch or functools.partial(
            fetch_arxiv_papers, deadline=settings.submission_fetch_seconds
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self, pending: Pending) -> Future[Submitted | None]:
        with self._lock:
            if self._pool is None:  # made at first use, again after close (a new lifespan)
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.submission_fetches,
                    thread_name_prefix="submission-fetch",
                )
            return self._pool.submit(self._run, pending)

    def _run(self, pending: Pending) -> Submitted | None:
        try:
            done = complete(self.db, self.settings, pending, self.fetch)
        except Exception:  # recorded on the attempt (and logged when unexpected)
            return None
        self.on_added()
        return done

    def close(self) -> None:
        """Wait for the running fetches (each within its deadline); drop queued ones."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# --- steps ---------------------------------------------------------------------------------


def _parse(text: str) -> str:
    try:
        arxiv_id, _version = parse_arxiv_id((text or "").strip())
    except ValueError as exc:
        raise CommunityError(
            "That is not an arXiv id or arxiv.org link (e.g. 2501.01234 or "
            "https://arxiv.org/abs/2501.01234)."
        ) from exc
    return arxiv_id


def _serialise_counting(db: Database, session: Session) -> None:
    """Counting attempts and adding one must not interleave between workers (else two could
    both pass a cap); held for the few statements of :func:`start`."""
    db.ops.serialise(session, _SERIALISE_KEY)


def _check_daily_limit(
    session: Session, settings: Settings, account: Account, today: dt.date
) -> None:
    done = session.scalar(
        select(func.count())
        .select_from(SubmissionAttempt)
        .where(SubmissionAttempt.user_id == account.id, SubmissionAttempt.day == today)
    )
    if (done or 0) >= settings.submission_daily_limit:
        raise CommunityError(
            f"You have made {done} submissions today, the daily limit (those arXiv could not "
            "answer count too); try again tomorrow."
        )


def _check_fetches(
    session: Session, settings: Settings, account: Account, arxiv_id: str, now: dt.datetime
) -> None:
    running = (
        select(func.count())
        .select_from(SubmissionAttempt)
        .where(
            SubmissionAttempt.status == FETCHING,
            SubmissionAttempt.created_at > now - _lifetime(settings),
        )
    )
    if session.scalar(running.where(SubmissionAttempt.arxiv_id == arxiv_id)):
        raise CommunityError(
            f"{arxiv_id} is being fetched from arXiv already; it will appear on today's list "
            "when found."
        )
    if (session.scalar(running.where(SubmissionAttempt.user_id == account.id)) or 0) >= (
        settings.submission_fetches_per_user
    ):
        raise SubmissionsBusy(
            f"You have {settings.submission_fetches_per_user} papers being fetched from arXiv; "
            "submit more when they are done."
        )
    if (session.scalar(running) or 0) >= settings.submission_fetches:
        raise SubmissionsBusy("arXiv is busy with other submissions; try again in a minute.")


def _fetch_and_add(db: Database, settings: Settings, pending: Pending, fetch: Fetch) -> Submitted:
    arxiv_id = pending.arxiv_id
    try:
        records = fetch([arxiv_id], settings)
    except ArxivAPIError as exc:
        raise CommunityError("arXiv could not be reached; try again later.") from exc
    records = [r for r in records if r.arxiv_id == arxiv_id]
    if not records:
        raise CommunityError(f"arXiv has no paper {arxiv_id}.")
    ingest_records(db, records)
    now = utcnow()
    with db.write() as session:
        paper = session.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
        if paper is None:  # pragma: no cover - the ingest just stored it
            raise CommunityError(f"arXiv has no paper {arxiv_id}.")
        title = _add_entry(session, settings, paper, pending.username, pending.day, now)
    return Submitted(arxiv_id, pending.day, title, pending.attempt_id)


def _add_entry(
    session: Session,
    settings: Settings,
    paper: Paper,
    username: str,
    day: dt.date,
    now: dt.datetime,
) -> str:
    """Put ``paper`` on ``day``'s list as submitted by ``username``; its title."""
    window = dt.timedelta(days=settings.submission_window_days)
    if paper.published_at is not None and paper.published_at < now - window:
        raise CommunityError(
            f"{paper.arxiv_id} was published on {paper.published_at:%Y-%m-%d}; papers can be "
            f"submitted within {settings.submission_window_days} days of publication."
        )
    on_list = session.scalar(
        select(func.count())
        .select_from(DailyEntry)
        .where(DailyEntry.paper_id == paper.id, DailyEntry.day == day)
    )
    if on_list:
        raise CommunityError(f"{paper.arxiv_id} is already on today's list.")
    session.add(
        DailyEntry(
            paper_id=paper.id, day=day, submitted_at=now, submitted_by=username, source="user"
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        raise CommunityError(f"{paper.arxiv_id} is already on today's list.") from exc
    return paper.title


def _attempt(
    account: Account, arxiv_id: str, day: dt.date, now: dt.datetime, status: str
) -> SubmissionAttempt:
    finished = now if status != FETCHING else None
    return SubmissionAttempt(
        user_id=account.id,
        arxiv_id=arxiv_id,
        day=day,
        status=status,
        created_at=now,
        finished_at=finished,
    )


def _finish(db: Database, attempt_id: int, status: str, message: str | None) -> None:
    with db.write() as session:
        session.execute(
            update(SubmissionAttempt)
            .where(SubmissionAttempt.id == attempt_id)
            .values(status=status, message=message, finished_at=utcnow())
        )


def _lifetime(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.submission_fetch_seconds) + STALE_AFTER_DEADLINE


def _view(settings: Settings, row: SubmissionAttempt, title: str | None) -> AttemptView:
    status, message = row.status, row.message
    if status == FETCHING and row.created_at <= utcnow() - _lifetime(settings):
        status, message = FAILED, "The fetch was interrupted; submit it again."
    return AttemptView(row.id, row.arxiv_id, row.day, status, message, row.created_at, title)


# --- admin ---------------------------------------------------------------------------------


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
