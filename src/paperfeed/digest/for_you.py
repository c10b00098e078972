"""The digest's "For you" section: a subscriber with an account whose reader_prefs leave
``digest_for_you`` on (the default, also when there is no reader_prefs row) gets the
period's papers ranked for them (``recommend.service``), each with its reason, above the
trending or topic list.

Only those subscribers cost a recommendation (one per distinct account); everyone else keeps
the shared contents. The section takes half the subscriber's papers (rounded up); the list
below fills the rest and never repeats a For-you paper. Papers that went to the address in an
earlier digest are skipped in both sections. A reader with no signal at all (the
recommender's ``trending`` method) gets no section: the trending list below is the same.
Recommendations are asked for before the run's write transaction (they read, and may train
a first model, on their own connections); the papers actually frozen into a content are
recorded as shown (``reader_impressions``) once the run is written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.digest.compose import Composer, Period, SubscriberRow
from paperfeed.digest.subscriptions.subscribers import ELIGIBLE
from paperfeed.recommend.service import recommend, record_impressions
from paperfeed.recommend.signals import dismissed_by_reader
from paperfeed.store.db import Database
from paperfeed.store.models import Paper, Subscriber
from paperfeed.store.reader_models import ReaderPrefs

log = logging.getLogger(__name__)

# A daily digest's section looks back this many days of first publication (the day's own
# papers are mostly announced, and so on the site, a day or more later).
DAILY_DAYS = 3
# Asked for beyond the section's size: room for papers already sent to the address.
LOOKAHEAD = 30
MAX_ASK = 200  # the recommender's own ceiling


@dataclass(frozen=True, slots=True)
class Picks:
    """One reader's ranked papers for the period: (paper id, reason), best first (none: no
    section), and the papers they dismissed (never in their digest)."""

    user_id: int
    ranked: tuple[tuple[int, str], ...]
    dismissed: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Composed:
    papers: tuple[int, ...]  # For-you papers first
    reasons: tuple[str, ...]  # one per leading For-you paper; empty: the shared list


def section_size(max_papers: int) -> int:
    return (max_papers + 1) // 2


def days_of(period: Period) -> tuple[dt.date, dt.date]:
    """The first-publication days (both included) the section ranks."""
    last = period.end - dt.timedelta(days=1)
    if period.kind == "daily":
        return last - dt.timedelta(days=DAILY_DAYS - 1), last
    return period.start, last


def readers(
    session: Session, kind: str, subscriber_ids: Iterable[int] | None = None
) -> dict[int, tuple[int, int]]:
    """subscriber id → (user id, papers per digest) of the eligible ``kind`` subscribers with
    an account and the section on."""
    stmt = (
        select(Subscriber.id, Subscriber.user_id, Subscriber.max_papers)
        .outerjoin(ReaderPrefs, ReaderPrefs.user_id == Subscriber.user_id)
        .where(
            Subscriber.status == ELIGIBLE,
            Subscriber.period == kind,
            Subscriber.user_id.is_not(None),
            func.coalesce(ReaderPrefs.digest_for_you, True).is_(True),
        )
    )
    if subscriber_ids is not None:
        stmt = stmt.where(Subscriber.id.in_(list(subscriber_ids)))
    return {int(s): (int(u or 0), int(n)) for s, u, n in session.execute(stmt)}


def gather_picks(
    db: Database, settings: Settings, period: Period, wanted: dict[int, tuple[int, int]]
) -> dict[int, Picks]:
    """subscriber id → their reader's picks, one recommendation per distinct account. Call
    it outside any write transaction. A reader whose recommendation fails gets the shared
    digest (logged): one reader's model never holds up a run."""
    start, end = days_of(period)
    per_user: dict[int, int] = {}
    for user_id, max_papers in wanted.values():
        per_user[user_id] = max(per_user.get(user_id, 0), max_papers)
    found: dict[int, list[tuple[str, str]]] = {}
    for user_id, max_papers in per_user.items():
        limit = min(MAX_ASK, section_size(max_papers) + LOOKAHEAD)
        try:
            got = recommend(db, settings, user_id, start=start, end=end, limit=limit, record=False)
        except Exception:
            log.exception("digest: no For-you section for user %s", user_id)
            continue
        if got.method != "trending" and got.items:
            found[user_id] = [(r.item.arxiv_id, r.reason) for r in got.items]
    ids = _paper_ids(db, {a for ranked in found.values() for a, _ in ranked})
    with db.read() as session:
        dismissed = dismissed_by_reader(session, per_user)
    picks = {
        uid: Picks(
            uid,
            tuple((ids[a], r) for a, r in found.get(uid, []) if a in ids),
            dismissed.get(uid, frozenset()),
        )
        for uid in found.keys() | dismissed.keys()
    }
    return {sid: picks[uid] for sid, (uid, _) in wanted.items() if uid in picks}


def _paper_ids(db: Database, arxiv_ids: set[str]) -> dict[str, int]:
    wanted = sorted(str(a) for a in arxiv_ids)
    out: dict[str, int] = {}
    with db.read() as session:
        for i in range(0, len(wanted), 500):
            rows = session.execute(
                select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(wanted[i : i + 500]))
            )
            out.update({str(a): int(p) for a, p in rows})
    return out


def compose(
    composer: Composer, sub: SubscriberRow, sent: frozenset[int], picks: Picks | None
) -> Composed:
    """``sub``'s papers: the For-you section (when ``picks`` ranks any), then the usual list
    without the papers sent before, already in the section or dismissed by the reader."""
    if picks is None:
        return Composed(composer.papers_for(sub, sent), ())
    sent = sent | picks.dismissed
    size = section_size(sub.max_papers)
    mine = [(p, r) for p, r in picks.ranked if p not in sent][:size]
    if not mine:
        return Composed(composer.papers_for(sub, sent), ())
    ids = tuple(p for p, _ in mine)
    rest = composer.papers_for(sub, sent | frozenset(ids), sub.max_papers - len(ids))
    return Composed(ids + rest, tuple(r for _, r in mine))


def record_shown(db: Database, shown: dict[int, list[int]]) -> None:
    """Record each reader's frozen For-you papers as shown (user id → paper ids)."""
    for user_id, paper_ids in shown.items():
        try:
            record_impressions(db, user_id, paper_ids)
        except Exception:  # derived, weak signal: a run never fails for it
            log.exception("digest: For-you impressions of user %s not recorded", user_id)
