"""Routes of the JSON API (``/api/...``) and the markdown paper pages (``/papers/{id}.md``).

Speed: a route validates its parameters, builds a normalised cache key and looks the rendered
bytes up in ``app.state.cache`` without leaving the event loop. Only on a miss does it query
the database, in the thread pool, with at most one computation per key in flight per worker
(concurrent misses wait for it). Bodies are orjson bytes returned as a ``Response``, so FastAPI
skips ``jsonable_encoder``; ``response_model`` only documents the shape in ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Hashable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from paperfeed import feed
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.api import serialize
from paperfeed.web.api.schemas import (
    ERROR_RESPONSES,
    NOT_FOUND_RESPONSES,
    DailyPaper,
    ErrorBody,
    Paper,
)
from paperfeed.web.cache import TTLCache

router = APIRouter(prefix="/api", tags=["papers"])
markdown_router = APIRouter(tags=["papers"])

MAX_LIMIT = 100
MAX_PAGE = 100_000
JSON = "application/json"
MARKDOWN = "text/markdown; charset=utf-8"

Sort = Literal["publishedAt", "trending"]
Period = tuple[dt.date, dt.date]


@router.get(
    "/daily_papers",
    response_model=list[DailyPaper],
    responses=ERROR_RESPONSES,
    summary="Daily papers (Hugging Face Daily Papers API)",
)
async def daily_papers(
    request: Request,
    p: Annotated[int, Query(ge=0, le=MAX_PAGE, description="Page number, from 0.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Papers per page.")] = 50,
    sort: Annotated[Sort | None, Query(description="publishedAt or trending.")] = None,
    date: Annotated[
        str | None, Query(description="A day, YYYY-MM-DD.", examples=["2025-03-03"])
    ] = None,
    week: Annotated[
        str | None, Query(description="An ISO week, YYYY-Www.", examples=["2025-W09"])
    ] = None,
    month: Annotated[
        str | None, Query(description="A month, YYYY-MM.", examples=["2025-03"])
    ] = None,
    submitter: Annotated[
        str | None, Query(max_length=64, description="Only entries this username submitted.")
    ] = None,
) -> Response:
    """Papers put on the daily lists, as a bare JSON array of daily items.

    At most one of ``date``, ``week`` (ISO) and ``month`` selects a period (more → 400; an
    empty value counts as absent). Order:

    - a period and no ``sort``: the feed's order, upvotes descending, then earlier
      submission first (then arXiv id); a paper featured on several days of a week or month
      appears once, with its first entry in the period;
    - a period and ``sort=publishedAt``: newest submission first;
    - a period and ``sort=trending``: trending score (upvotes halved every
      ``PAPERFEED_TRENDING_HALF_LIFE_HOURS`` of age), taken at the period's newest submission;
    - no period: every daily entry, newest submission first (``sort=publishedAt`` is the
      same); ``sort=trending``: the trending list (papers featured in the last
      ``PAPERFEED_TRENDING_WINDOW_DAYS``, each once).

    ``submitter`` keeps only entries submitted by that username. ``p`` and ``limit`` page
    through the ordered list (``p * limit`` entries are skipped). Top-level ``publishedAt``
    is when the paper was put on the daily list (as on Hugging Face); ``paper.publishedAt`` is
    the arXiv publication time.
    """
    periods = (("date", date), ("week", week), ("month", month))
    given = [(name, value) for name, value in periods if value]
    if len(given) > 1:
        raise HTTPException(400, "give at most one of date, week and month")
    try:
        period = _parse_period(*given[0]) if given else None
    except feed.BadPeriod as exc:
        raise HTTPException(400, str(exc)) from exc
    who = submitter or None
    key = ("daily_papers", period, sort, who, p, limit)
    state = request.app.state
    body = await _cached(
        state, key, lambda: _daily_body(state.db, state.settings, period, sort, who, p, limit)
    )
    return Response(body, media_type=JSON)


@router.get(
    "/papers/search",
    response_model=list[Paper],
    responses=ERROR_RESPONSES,
    summary="Search papers",
)
async def search_papers(
    request: Request,
    q: Annotated[str | None, Query(max_length=500, description="Keywords.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most papers returned.")] = 50,
) -> Response:
    """Papers whose title or abstract contains every word of ``q`` (case-insensitive), most
    upvoted first, as a bare JSON array of paper objects.

    A missing or blank ``q`` returns an empty array (so ``HfApi.list_papers()`` without a
    query works and returns nothing)."""
    query = " ".join((q or "").split())
    if not query:
        return Response(b"[]", media_type=JSON)
    state = request.app.state
    body = await _cached(
        state, ("search", query, limit), lambda: _search_body(state.db, query, limit)
    )
    return Response(body, media_type=JSON)


@router.get(
    "/papers/{arxiv_id:path}",
    response_model=Paper,
    responses=NOT_FOUND_RESPONSES,
    summary="One paper",
)
async def paper_info(request: Request, arxiv_id: str) -> Response:
    """One paper by arXiv id (``2501.01234`` or old-style ``hep-th/9901001``). A versioned
    id (``2501.01234v2``) serves the paper. Unknown → 404 ``{"error": ...}``."""
    state = request.app.state
    body = await _cached(state, ("paper", arxiv_id), lambda: _paper_body(state.db, arxiv_id))
    if not body:
        raise HTTPException(404, f"paper {arxiv_id[:64]!r} not found")
    return Response(body, media_type=JSON)


@markdown_router.get(
    "/papers/{arxiv_id:path}.md",
    response_class=Response,
    responses={
        200: {"content": {"text/markdown": {}}, "description": "The paper page as markdown."},
        404: {"model": ErrorBody, "description": "No such paper."},
    },
    summary="One paper as markdown",
)
async def paper_markdown(request: Request, arxiv_id: str) -> Response:
    """The paper page as markdown: title, authors, dates, upvotes, links, abstract (what
    ``HfApi.read_paper`` returns). Unknown → 404."""
    state = request.app.state
    body = await _cached(
        state,
        ("markdown", arxiv_id),
        lambda: _markdown_body(state.db, state.settings, arxiv_id),
    )
    if not body:
        return Response(
            f"paper {arxiv_id[:64]!r} not found\n", status_code=404, media_type=MARKDOWN
        )
    return Response(body, media_type=MARKDOWN)


def _parse_period(name: str, value: str) -> Period:
    if name == "date":
        day = feed.parse_day(value)
        return day, day + dt.timedelta(days=1)
    if name == "week":
        return feed.parse_week(value)
    return feed.parse_month(value)


def _daily_body(
    db: Database,
    settings: Settings,
    period: Period | None,
    sort: Sort | None,
    submitter: str | None,
    page: int,
    limit: int,
) -> bytes:
    offset = page * limit
    with db.read() as session:
        if period is None:
            if sort == "trending":
                items = feed.trending_items(
                    session,
                    half_life_hours=settings.trending_half_life_hours,
                    window_days=settings.trending_window_days,
                    submitter=submitter,
                )[offset : offset + limit]
            else:
                items = feed.recent_items(session, offset, limit, submitter)
        else:
            start, end = period
            if sort == "trending":
                items = feed.period_trending_items(
                    session,
                    start,
                    end,
                    half_life_hours=settings.trending_half_life_hours,
                    submitter=submitter,
                )
            elif end - start == dt.timedelta(days=1):
                items = feed.day_items(session, start, submitter)
            else:
                items = feed.period_items(session, start, end, submitter)
            if sort == "publishedAt":
                items = feed.newest_first(items)
            items = items[offset : offset + limit]
    return serialize.daily_list_bytes(items)


def _search_body(db: Database, query: str, limit: int) -> bytes:
    with db.read() as session:
        items = feed.search_items(session, query, limit)
    return serialize.paper_list_bytes(items)


def _paper_body(db: Database, arxiv_id: str) -> bytes:
    with db.read() as session:
        detail = feed.get_paper(session, arxiv_id)
    return serialize.paper_bytes(detail) if detail else b""


def _markdown_body(db: Database, settings: Settings, arxiv_id: str) -> bytes:
    with db.read() as session:
        detail = feed.get_paper(session, arxiv_id)
    return serialize.paper_markdown(detail, settings.base_url).encode() if detail else b""


class _Miss(Exception):
    """Raised inside TTLCache.get_or_set to look a key up without computing it."""


def _raise_miss() -> bytes:
    raise _Miss


async def _cached(state: Any, key: Hashable, compute: Callable[[], bytes]) -> bytes:
    """Cached bytes for ``key``, else ``compute()`` in the thread pool, once per key at a time.

    ``b""`` is a cacheable "not found"."""
    cache: TTLCache[bytes] = state.cache
    try:
        return cache.get_or_set(key, _raise_miss)
    except _Miss:
        pass
    inflight: dict[Hashable, asyncio.Future[bytes]] | None = getattr(state, "api_inflight", None)
    if inflight is None:
        inflight = state.api_inflight = {}
    pending = inflight.get(key)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    inflight[key] = future
    try:
        body = await run_in_threadpool(compute)
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(exc)
            future.exception()  # mark it retrieved: nobody else may be waiting
        raise
    finally:
        inflight.pop(key, None)
    future.set_result(body)
    return cache.get_or_set(key, lambda: body)
