"""Remote sources with fixed hosts from settings: the Daily Papers API, recent arXiv papers.

Both fail fast and cleanly: any network problem raises an exception (``DailyPapersFetchError``
or ``ArxivAPIError``) that callers such as the demo loader catch; nothing here retries for long.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import httpx

from paperfeed.config import Settings
from paperfeed.papers.categories import validate_category
from paperfeed.sources.atom import ArxivAPIError, search_records
from paperfeed.sources.capped import read_capped
from paperfeed.sources.readers import iter_daily_papers_array
from paperfeed.sources.records import DailyInfo, ReadItem

MAX_DAILY_BYTES = 20 * 1024 * 1024
DAILY_LIMIT = 100

__all__ = [
    "ArxivAPIError",
    "DailyPapersFetchError",
    "fetch_arxiv_recent_as_daily",
    "fetch_daily_papers",
]


class DailyPapersFetchError(RuntimeError):
    """The Daily Papers API could not be read (offline, refused, timed out, bad answer)."""


def _days(days: int | Sequence[dt.date], today: dt.date | None) -> list[dt.date]:
    if isinstance(days, int):
        today = today or dt.datetime.now(dt.UTC).date()
        return [today - dt.timedelta(days=i) for i in range(days)]
    return list(days)


def fetch_daily_papers(
    settings: Settings,
    days: int | Sequence[dt.date] = 3,
    *,
    deadline: float | None = None,
    today: dt.date | None = None,
) -> list[ReadItem]:
    """The Daily Papers lists of the last ``days`` days (or of the given dates).

    One ``GET {daily_papers_api_url}?date=YYYY-MM-DD&limit=100`` per day, short timeouts,
    a size cap; the answers go through the same parser as ``ingest daily-papers FILE``.
    Raises DailyPapersFetchError at the first failure.
    """
    started = time.monotonic()
    base_timeout = min(settings.http_timeout, 10.0)
    items: list[ReadItem] = []
    with httpx.Client(
        timeout=httpx.Timeout(base_timeout, connect=min(base_timeout, 5.0)),
        follow_redirects=False,
        headers={"Accept": "application/json"},
    ) as client:
        for day in _days(days, today):
            timeout = base_timeout
            if deadline is not None:
                left = deadline - (time.monotonic() - started)
                if left <= 0:
                    raise DailyPapersFetchError("Daily Papers API: out of time")
                timeout = min(timeout, left)
            params = {"date": day.isoformat(), "limit": str(DAILY_LIMIT)}
            try:
                with client.stream(
                    "GET", settings.daily_papers_api_url, params=params, timeout=timeout
                ) as response:
                    if response.status_code != 200:
                        raise DailyPapersFetchError(
                            f"Daily Papers API: HTTP {response.status_code} for {day}"
                        )
                    too_large = f"Daily Papers API: answer for {day} over {MAX_DAILY_BYTES} bytes"
                    body = read_capped(response, MAX_DAILY_BYTES, DailyPapersFetchError(too_large))
            except httpx.HTTPError as exc:
                raise DailyPapersFetchError(
                    f"Daily Papers API not reachable ({exc.__class__.__name__}: {exc})"
                ) from exc
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DailyPapersFetchError(f"Daily Papers API: answer not UTF-8 ({exc})") from exc
            source = f"daily_papers?date={day.isoformat()}"
            items.extend(iter_daily_papers_array(text, source))
    return items


def fetch_arxiv_recent_as_daily(
    settings: Settings,
    categories: Sequence[str],
    *,
    deadline: float | None = None,
    max_results: int = 60,
    source: str = "demo",
) -> list[ReadItem]:
    """The newest arXiv submissions in ``categories``, each featured on its submission day.

    Used when Daily Papers is unreachable; entries are marked with ``source``.
    Raises ArxivAPIError (or ValueError for a bad category).
    """
    query = " OR ".join(f"cat:{validate_category(c)}" for c in categories)
    records = search_records(
        query, None, settings, max_results=max_results, page_size=max_results, deadline=deadline
    )
    items: list[ReadItem] = []
    for n, record in enumerate(records, start=1):
        when = record.published_at or record.updated_at
        if when is None:
            continue
        record.daily = DailyInfo(day=when.date(), submitted_at=when, source=source)
        items.append(ReadItem("arxiv", n, record=record))
    return items
