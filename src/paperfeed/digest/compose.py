"""Which papers each recipient gets.

Daily: the day's papers by upvotes, then trending papers (ranking.py) not yet sent to the
subscriber. Weekly: the week's best. Subscribers with topics (arXiv categories, keywords
matched through the search module's keyword index, followed authors) get the papers of the
period that match any of them, best first. A paper that went to an address in an earlier
digest (sent, in flight or uncertain: anything but failed or skipped) is never sent to it
again. Nothing left: no delivery at all (empty digests are not sent).

Everything is computed per distinct input (the shared base list, each distinct topic set,
each distinct set of earlier digests), so 100,000 subscribers cost a few distinct lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from paperfeed import papers
from paperfeed.config import Settings
from paperfeed.search.hybrid import ensure_fresh
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.query import parse_query
from paperfeed.store.db import Database
from paperfeed.store.models import (
    DailyEntry,
    DigestContentPaper,
    DigestDelivery,
    Paper,
    Subscriber,
)
from paperfeed.store.records import record_of

log = logging.getLogger(__name__)

KINDS = ("daily", "weekly")
TRENDING_EXTRA = 50  # trending papers considered after the day's list
KEYWORD_DEPTH = 20_000  # keyword matches looked at per keyword and period
NOT_SENT = ("failed", "skipped")  # deliveries whose papers did not reach the address


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    key: str
    start: dt.date
    end: dt.date  # exclusive

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return f"{self.start:%A}, {self.start:%B} {self.start.day}, {self.start.year}"
        last = self.end - dt.timedelta(days=1)
        return f"week of {self.start:%B} {self.start.day} – {last:%B} {last.day}, {last.year}"


def period_for(kind: str, day: dt.date) -> Period:
    if kind == "daily":
        return Period(kind, day.isoformat(), day, day + dt.timedelta(days=1))
    if kind == "weekly":
        start = day - dt.timedelta(days=day.weekday())
        return Period(kind, papers.iso_week(day), start, start + dt.timedelta(days=7))
    raise ValueError(f"unknown digest kind {kind!r}")


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    id: int
    email: str
    timezone: str
    send_hour: int
    send_weekday: int
    max_papers: int
    topics: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # cats, keywords, authors


SUBSCRIBER_COLUMNS = (
    Subscriber.id,
    Subscriber.email,
    Subscriber.timezone,
    Subscriber.send_hour,
    Subscriber.send_weekday,
    Subscriber.max_papers,
    Subscriber.categories,
    Subscriber.keywords,
    Subscriber.authors,
)


def subscriber_row(row: Any) -> SubscriberRow:
    """A row of ``SUBSCRIBER_COLUMNS``, its three topic lists as one tuple of tuples."""
    topics = (tuple(row.categories or ()), tuple(row.keywords or ()), tuple(row.authors or ()))
    return record_of(SubscriberRow, row, topics=topics)


@dataclass(slots=True)
class PoolPaper:
    id: int
    title: str
    abstract: str
    authors: frozenset[str]
    categories: frozenset[str]
    upvotes: int


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


class Composer:
    """Paper lists for one period, for any number of subscribers."""

    def __init__(
        self, session: Session, db: Database, settings: Settings, period: Period, now: dt.datetime
    ) -> None:
        self.session, self.db, self.settings = session, db, settings
        self.period, self.now = period, now
        self.base = self._base_ids()
        self._pool: dict[int, PoolPaper] | None = None
        self._pool_order: list[int] = []
        self._topic_cache: dict[tuple[tuple[str, ...], ...], list[int]] = {}
        self._keyword_cache: dict[str, set[int]] = {}

    # --- the shared list
    def _ids_of(self, arxiv_ids: Sequence[str]) -> dict[str, int]:
        rows = self.session.execute(
            select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(list(arxiv_ids)))
        )
        return {a: i for a, i in rows}

    def _base_ids(self) -> list[int]:
        p, s = self.period, self.settings
        if p.kind == "daily":
            items = papers.day_items(self.session, p.start)
            end_of_day = dt.datetime.combine(p.end, dt.time())
            trending = papers.trending_items(
                self.session,
                half_life_hours=s.trending_half_life_hours,
                window_days=s.trending_window_days,
                now=min(self.now, end_of_day),
            )
            items += [t for t in trending if (t.score or 0) > 0][: TRENDING_EXTRA + len(items)]
        else:
            items = papers.period_items(self.session, p.start, p.end)
        ids = self._ids_of([i.arxiv_id for i in items])
        out: list[int] = []
        for item in items:
            pid = ids.get(item.arxiv_id)
            if pid is not None and pid not in out:
                out.append(pid)
        return out

    # --- topics
    def _load_pool(self) -> dict[int, PoolPaper]:
        if self._pool is not None:
            return self._pool
        p = self.period
        start = dt.datetime.combine(p.start, dt.time())
        end = dt.datetime.combine(p.end, dt.time())
        featured = select(DailyEntry.paper_id).where(
            DailyEntry.day >= p.start, DailyEntry.day < p.end
        )
        rows = list(
            self.session.execute(
                select(
                    Paper.id,
                    Paper.title,
                    Paper.abstract,
                    Paper.authors,
                    Paper.categories,
                    Paper.imported_upvotes + Paper.user_upvotes,
                    Paper.published_at,
                ).where(
                    or_(
                        Paper.id.in_(featured),
                        (Paper.published_at >= start) & (Paper.published_at < end),
                    )
                )
            ).all()
        )
        rows.sort(key=lambda r: (-r[5], -(r[6] or start).timestamp(), r[0]))
        self._pool = {
            r[0]: PoolPaper(
                r[0],
                r[1] or "",
                r[2] or "",
                frozenset(_norm(a) for a in r[3] or ()),
                frozenset(c.casefold() for c in r[4] or ()),
                r[5],
            )
            for r in rows
        }
        self._pool_order = [r[0] for r in rows]
        return self._pool

    def _keyword_ids(self, keyword: str) -> set[int]:
        found = self._keyword_cache.get(keyword)
        if found is not None:
            return found
        pool = self._load_pool()
        found = keyword_matches(self.db, self.settings, keyword, pool)
        self._keyword_cache[keyword] = found
        return found

    def topic_ids(self, topics: tuple[tuple[str, ...], ...]) -> list[int]:
        known = self._topic_cache.get(topics)
        if known is not None:
            return known
        cats, keywords, authors = topics
        pool = self._load_pool()
        want_cats = {c.casefold() for c in cats}
        want_authors = {_norm(a) for a in authors}
        by_keyword: set[int] = set()
        for kw in keywords:
            by_keyword |= self._keyword_ids(kw)
        out = [
            pid
            for pid in self._pool_order
            if pool[pid].categories & want_cats
            or pool[pid].authors & want_authors
            or pid in by_keyword
        ]
        self._topic_cache[topics] = out
        return out

    def ordered_for(self, sub: SubscriberRow) -> list[int]:
        return self.topic_ids(sub.topics) if any(sub.topics) else self.base

    # --- earlier digests
    def candidate_ids(self, subs: Iterable[SubscriberRow]) -> set[int]:
        ids = set(self.base)
        if any(any(s.topics) for s in subs):
            ids |= set(self._load_pool())
        return ids

    def already_sent(
        self, candidates: set[int], exclude_run: int | None = None
    ) -> dict[int, frozenset[int]]:
        """subscriber id → candidate papers some earlier digest already carried to it."""
        if not candidates:
            return {}
        content_papers: dict[int, set[int]] = defaultdict(set)
        cand = sorted(candidates)
        for i in range(0, len(cand), 500):
            for cid, pid in self.session.execute(
                select(DigestContentPaper.content_id, DigestContentPaper.paper_id).where(
                    DigestContentPaper.paper_id.in_(cand[i : i + 500])
                )
            ):
                content_papers[cid].add(pid)
        if not content_papers:
            return {}
        per_sub: dict[int, set[int]] = defaultdict(set)
        cids = sorted(content_papers)
        for i in range(0, len(cids), 500):
            stmt = select(DigestDelivery.subscriber_id, DigestDelivery.content_id).where(
                DigestDelivery.content_id.in_(cids[i : i + 500]),
                DigestDelivery.status.not_in(NOT_SENT),
            )
            if exclude_run is not None:
                stmt = stmt.where(DigestDelivery.run_id != exclude_run)
            for sid, cid in self.session.execute(stmt):
                per_sub[sid].add(cid)
        combos: dict[frozenset[int], frozenset[int]] = {}
        out: dict[int, frozenset[int]] = {}
        for sid, content_ids in per_sub.items():
            key = frozenset(content_ids)
            papers = combos.get(key)
            if papers is None:
                papers = combos[key] = frozenset().union(*(content_papers[c] for c in key))
            out[sid] = papers
        return out

    def papers_for(
        self, sub: SubscriberRow, sent: frozenset[int], limit: int | None = None
    ) -> tuple[int, ...]:
        ordered = self.ordered_for(sub)
        n = sub.max_papers if limit is None else limit
        if not sent:
            return tuple(ordered[:n])
        return tuple([p for p in ordered if p not in sent][:n])


def keyword_matches(
    db: Database, settings: Settings, keyword: str, pool: dict[int, PoolPaper]
) -> set[int]:
    """Papers of ``pool`` matching ``keyword`` (a phrase) through the search module's keyword
    index; a plain case-insensitive text match when the index cannot answer."""
    if not pool:
        return set()
    phrase = " ".join(keyword.replace('"', " ").split())
    if not phrase:
        return set()
    try:
        index = get_keyword_index(settings)
        # Every word of the keyword (BM25, stemmed as the search page does), then only the
        # papers of this period.
        hits = index.search(parse_query(phrase), KEYWORD_DEPTH, conjunctive=True).hits
        return {pid for pid, _ in hits if pid in pool}
    except Exception:
        log.warning("keyword index unavailable; matching %r by plain text", phrase)
        needle = phrase.casefold()
        return {pid for pid, p in pool.items() if needle in f"{p.title} {p.abstract}".casefold()}


def prepare_search(db: Database, settings: Settings) -> None:
    """Bring the keyword index up to date; call it outside any write transaction (the
    index records its watermark with a write of its own)."""
    try:
        ensure_fresh(get_keyword_index(settings), db, settings)
    except Exception:
        log.warning("keyword index unavailable; keywords will be matched by plain text")


def content_key(paper_ids: Sequence[int], for_you: Sequence[str] = ()) -> str:
    """Names a content within its run: its papers, and a reader's own section's reasons."""
    text = ",".join(map(str, paper_ids))
    if for_you:
        text += "\x00for-you\x00" + "\x00".join(for_you)
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=1024)
def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def next_send_time(
    now: dt.datetime, kind: str, timezone: str, hour: int, weekday: int
) -> dt.datetime:
    """The first moment at or after ``now`` (naive UTC) that is ``hour`` o'clock in the
    subscriber's zone (and, weekly, on ``weekday``), as naive UTC."""
    zone = _zone(timezone)
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    for days in range(0, 8):
        day = local.date() + dt.timedelta(days=days)
        if kind == "weekly" and day.weekday() != weekday:
            continue
        at = dt.datetime.combine(day, dt.time(hour), tzinfo=zone)
        utc = at.astimezone(dt.UTC).replace(tzinfo=None)
        if utc >= now - dt.timedelta(minutes=1):
            return utc
    return now
