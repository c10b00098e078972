"""Ranking: the daily order and the trending score. Pure functions, no I/O.

Daily order
    upvotes (imported + this site's users) descending, then submission time ascending
    (earlier submissions win ties), then arXiv id.

Trending
    score = upvotes × 2^(−age_hours / half_life_hours)

    where ``age_hours`` is the time from when the paper was featured (its latest daily
    entry) to the reference time ``now``. Every upvote loses half its weight every
    ``half_life_hours`` (setting ``PAPERFEED_TRENDING_HALF_LIFE_HOURS``, default 36 h).
    Only papers featured within ``PAPERFEED_TRENDING_WINDOW_DAYS`` of ``now`` compete.
    Properties (tested in tests/papers/test_ranking.py): with equal votes a fresher paper outranks
    an older one; at equal age more votes rank higher; a paper with no votes scores 0; the
    score never increases as time passes without new votes; one vote today outweighs one
    vote cast a half-life ago by exactly 2×.

    ``now`` is the current time, except when the newest featured paper is older than that
    (an archive, or a site fed from a dump): then ``now`` is the newest featured time, so
    trending shows what was trending when the feed last moved instead of an empty page.
"""

from __future__ import annotations

import datetime as dt
import math


def utc_timestamp(moment: dt.datetime) -> float:
    """Seconds since the epoch of a naive-UTC (or aware) datetime, whatever the local zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def daily_sort_key(
    upvotes: int, submitted_at: dt.datetime, arxiv_id: str
) -> tuple[int, float, str]:
    """Sort key of the daily order: more upvotes first, then earlier submission, then id."""
    return (-upvotes, utc_timestamp(submitted_at), arxiv_id)


def newest_sort_key(
    submitted_at: dt.datetime, upvotes: int, arxiv_id: str
) -> tuple[float, int, str]:
    """Sort key of the "newest submission first" order (ties: more upvotes, then id)."""
    return (-utc_timestamp(submitted_at), -upvotes, arxiv_id)


def trending_sort_key(
    score: float, submitted_at: dt.datetime, arxiv_id: str
) -> tuple[float, float, str]:
    """Sort key of the trending order: higher score, then fresher, then id."""
    return (-score, -utc_timestamp(submitted_at), arxiv_id)


def trending_score(
    upvotes: int, featured_at: dt.datetime, now: dt.datetime, half_life_hours: float
) -> float:
    if upvotes <= 0:
        return 0.0
    if half_life_hours <= 0:
        raise ValueError("half_life_hours must be positive")
    age_hours = max(0.0, (now - featured_at).total_seconds() / 3600.0)
    return upvotes * math.pow(2.0, -age_hours / half_life_hours)


def reference_time(now: dt.datetime, newest_featured: dt.datetime | None) -> dt.datetime:
    """The 'now' trending is computed at (see the module docstring)."""
    if newest_featured is None or newest_featured >= now:
        return now
    return newest_featured
