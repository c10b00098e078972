"""A subscriber's preferences (period, hour and day in their zone, how many papers, topics),
checked before they are stored."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from paperfeed.config import Settings
from paperfeed.digest import DigestError
from paperfeed.params import whole_number

PERIODS = ("daily", "weekly")
MAX_TOPICS = 20
MAX_TOPIC_CHARS = 100


@dataclass(slots=True)
class Prefs:
    period: str = "daily"
    timezone: str = "UTC"
    send_hour: int = 7
    send_weekday: int = 0
    max_papers: int = 10
    categories: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)

    @property
    def has_topics(self) -> bool:
        return bool(self.categories or self.keywords or self.authors)


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _topic_list(raw: Iterable[str] | str | None) -> list[str]:
    if raw is None:
        return []
    items = raw.replace("\n", ",").split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        value = " ".join(str(item).split())[:MAX_TOPIC_CHARS]
        if value and value.lower() not in {o.lower() for o in out}:
            out.append(value)
    if len(out) > MAX_TOPICS:
        raise DigestError(f"At most {MAX_TOPICS} entries per topic list.")
    return out


def _number(value: int | str) -> int:
    return value if isinstance(value, int) else whole_number(value, 0, 10**6, "number")


def make_prefs(
    settings: Settings,
    *,
    period: str = "daily",
    timezone: str = "UTC",
    send_hour: int | str = 7,
    send_weekday: int | str = 0,
    max_papers: int | str | None = None,
    categories: Iterable[str] | str | None = None,
    keywords: Iterable[str] | str | None = None,
    authors: Iterable[str] | str | None = None,
) -> Prefs:
    """Checked preferences, or :class:`DigestError` saying what is wrong."""
    if period not in PERIODS:
        raise DigestError("The period is daily or weekly.")
    if timezone not in _zones():
        raise DigestError("Unknown time zone (use a name like Europe/Paris or UTC).")
    try:  # ASCII digits; bounds wide enough that the range check below keeps its message
        hour, weekday = _number(send_hour), _number(send_weekday)
        papers = settings.digest_default_papers if max_papers in (None, "") else _number(max_papers)
    except (TypeError, ValueError) as exc:
        raise DigestError("Hour, day and number of papers are whole numbers.") from exc
    if not 0 <= hour <= 23 or not 0 <= weekday <= 6 or not 1 <= papers <= 50:
        raise DigestError("The hour is 0-23, the day 0-6 (Monday = 0), papers 1-50.")
    cats = [c for c in _topic_list(categories)]
    for c in cats:
        if not all(ch.isalnum() or ch in ".-" for ch in c):
            raise DigestError(f"Not an arXiv category: {c!r} (e.g. cs.CL).")
    return Prefs(
        period,
        timezone,
        hour,
        weekday,
        papers,
        cats,
        _topic_list(keywords),
        _topic_list(authors),
    )
