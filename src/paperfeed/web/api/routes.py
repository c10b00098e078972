"""Routes of the JSON API (``/api/...``) and the markdown paper pages (``/papers/{id}.md``).

Speed: a route validates its parameters, builds a normalised cache key and looks the rendered
bytes up in the worker's cache (``CacheDep``) without leaving the event loop. Only on a miss
does it query the database, where ``web/deps.py``'s rule puts the work (``deps.cached``): a
short read on the loop on SQLite, else in the thread pool with at most one computation per key
in flight per worker (concurrent misses wait for it; an entry past its time is served while
one refresh runs); search and similar papers always in the thread pool. Bodies are orjson
bytes returned as a ``Response``, so FastAPI skips ``jsonable_encoder``; ``response_model``
only documents the shape in ``/openapi.json``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paperfeed import feed
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web import deps
from paperfeed.web.api import serialize
from paperfeed.web.api.schemas import (
    ERROR_RESPONSES,
    NOT_FOUND_RESPONSES,
    DailyPaper,
    ErrorBody,
    Paper,
)
from paperfeed.web.deps import CacheDep, DatabaseDep, SettingsDep, cached

router = APIRouter(prefix="/api", tags=["papers"])
markdown_router = APIRouter(tags=["papers"])

MAX_LIMIT = 100
MAX_PAGE = 100_000
JSON = "application/json"
MARKDOWN = "text/markdown; charset=utf-8"

MAX_REMEMBERED_QUERIES = 4096

Sort = Literal["publishedAt", "trending"]
Period = tuple[dt.date, dt.date]
# ("daily_papers", period, sort, submitter, p, limit)
DailyKey = tuple[str, Period | None, Sort | None, str | None, int, int]


class DailyPapersQuery(BaseModel):
    """The query parameters of ``/api/daily_papers`` (validated by hand, see daily_papers)."""

    model_config = ConfigDict(extra="ignore")

    p: int = Field(0, ge=0, le=MAX_PAGE, description="Page number, from 0.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="Papers per page.")
    sort: Sort | None = Field(None, description="publishedAt or trending.")
    date: str | None = Field(None, description="A day, YYYY-MM-DD.", examples=["2025-03-03"])
    week: str | None = Field(None, description="An ISO week, YYYY-Www.", examples=["2025-W09"])
    month: str | None = Field(None, description="A month, YYYY-MM.", examples=["2025-03"])
    submitter: str | None = Field(
        None, max_length=64, description="Only entries this username submitted."
    )


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` for a model's fields, all optional query parameters."""
    properties = model.model_json_schema()["properties"]
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": schema.pop("description", ""),
            "schema": schema,
        }
        for name, schema in properties.items()
    ]


@router.get(
    "/daily_papers",
    response_model=list[DailyPaper],
    responses=ERROR_RESPONSES,
    summary="Daily papers (Hugging Face Daily Papers API)",
    openapi_extra={"parameters": _query_parameters(DailyPapersQuery)},
)
async def daily_papers(request: Request) -> Response:
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

    ``submitter`` keeps only entries submitted by that username. ``p`` (default 0) and
    ``limit`` (default 50, at most 100) page through the ordered list (``p * limit`` entries
    are skipped). Top-level ``publishedAt`` is when the paper was put on the daily list (as on
    Hugging Face); ``paper.publishedAt`` is the arXiv publication time.

    This is the hottest route, so it skips FastAPI's per-parameter validation: the raw query
    string maps to its validated, normalised cache key (``DailyPapersQuery`` checks it once),
    and the key to the cached bytes. For the same reason it reads its services through the
    accessors of ``web/deps.py`` rather than as dependencies (FastAPI's solver costs each
    dependency some microseconds on every request; measured with bench_http.py).
    """
    keys = deps.query_keys_of(request)
    raw: bytes = request.scope["query_string"]
    key: DailyKey | None = keys.get(raw)
    if key is None:
        key = _daily_key(request)
        if len(keys) >= MAX_REMEMBERED_QUERIES:
            keys.clear()
        keys[raw] = key
    _, period, sort, who, p, limit = key
    settings, db = deps.settings_of(request), deps.database_of(request)
    body = await deps.cached(
        deps.cache_of(request),
        db,
        key,
        lambda: _daily_body(db, settings, period, sort, who, p, limit),
    )
    return Response(body, media_type=JSON)


def _daily_key(request: Request) -> DailyKey:
    """Validate the query of /api/daily_papers; its normalised cache key, or a 400."""
    try:
        query = DailyPapersQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise HTTPException(400, _problems(exc)) from exc
    date, week, month, submitter = query.date, query.week, query.month, query.submitter
    periods = (("date", date), ("week", week), ("month", month))
    given = [(name, value) for name, value in periods if value]
    if len(given) > 1:
        raise HTTPException(400, "give at most one of date, week and month")
    try:
        period = _parse_period(*given[0]) if given else None
    except feed.BadPeriod as exc:
        raise HTTPException(400, str(exc)) from exc
    return ("daily_papers", period, query.sort, submitter or None, query.p, query.limit)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e.get('loc', ())) or 'query'}: {e.get('msg')}"
        for e in exc.errors()
    )


@router.get(
    "/papers/search",
    response_model=list[Paper],
    responses=ERROR_RESPONSES,
    summary="Search papers",
)
async def search_papers(
    settings: SettingsDep,
    db: DatabaseDep,
    cache: CacheDep,
    q: Annotated[
        str | None,
        Query(
            max_length=500,
            description=(
                'Words, "quoted phrases", author:NAME, cat:cs.CL, year:2025 or '
                "year:2023..2025, date:2025-01..2025-03, has:code; or an arXiv id or URL."
            ),
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most papers returned.")] = 50,
) -> Response:
    """Hybrid search (keyword BM25 fused with semantic similarity), best first, as a bare
    JSON array of paper objects (what ``HfApi.list_papers(query=...)`` reads).

    The keyword part keeps papers whose title, abstract or authors contain every word of
    ``q`` (case-insensitive, English stemming); the semantic part adds papers close in
    meaning when the embedder is available (otherwise results are keyword-only; the
    ``X-Search-Mode`` header says ``hybrid``, ``keyword`` or ``id``; ``X-Search-Indexing: 1``
    says the keyword index is still catching up with the database). Filters in
    ``q`` apply before ranking. Ties go to the more upvoted paper. An arXiv id or URL
    returns that paper. A missing or blank ``q`` returns an empty array; a malformed filter
    (``year:soon``) is a 400 with a JSON ``error``."""
    query = " ".join((q or "").split())
    if not query:
        return Response(b"[]", media_type=JSON)
    body = await cached(
        cache,
        db,
        ("search", query, limit),
        lambda: _search_body(db, settings, query, limit),
        long=True,  # the embedder
    )
    if body.startswith(b"!"):
        raise HTTPException(400, body[1:].decode())
    # The body stays a bare array (the list_papers contract); how it was found is a header.
    first, _, array = body.partition(b"\n")
    mode, *flags = first.decode().split()
    headers = {"X-Search-Mode": mode}
    if "indexing" in flags:  # the keyword index is still catching up with the database
        headers["X-Search-Indexing"] = "1"
    return Response(array, media_type=JSON, headers=headers)


@router.get(
    "/papers/{arxiv_id:path}/similar",
    response_model=list[Paper],
    responses=NOT_FOUND_RESPONSES,
    summary="Similar papers",
)
async def similar_papers(
    settings: SettingsDep,
    db: DatabaseDep,
    cache: CacheDep,
    arxiv_id: str,
    limit: Annotated[int, Query(ge=1, le=50, description="Most papers returned.")] = 10,
) -> Response:
    """The papers nearest to this one in the semantic index (all-MiniLM-L6-v2 embeddings of
    title and abstract), most similar first, itself excluded, as a bare JSON array of paper
    objects. Empty when semantic search is off. Unknown paper → 404 ``{"error": ...}``.
    Declared before ``/papers/{arxiv_id:path}``, which would otherwise match it."""
    from paperfeed.search.similar import similar_items

    def compute() -> bytes:
        items = similar_items(db, settings, arxiv_id, limit)
        return b"" if items is None else serialize.paper_list_bytes(items)

    body = await cached(cache, db, ("similar", arxiv_id, limit), compute, long=True)
    if not body:
        raise HTTPException(404, f"paper {arxiv_id[:64]!r} not found")
    return Response(body, media_type=JSON)


@router.get(
    "/papers/{arxiv_id:path}",
    response_model=Paper,
    responses=NOT_FOUND_RESPONSES,
    summary="One paper",
)
async def paper_info(db: DatabaseDep, cache: CacheDep, arxiv_id: str) -> Response:
    """One paper by arXiv id (``2501.01234`` or old-style ``hep-th/9901001``). A versioned
    id (``2501.01234v2``) serves the paper. Unknown → 404 ``{"error": ...}``."""
    body = await cached(cache, db, ("paper", arxiv_id), lambda: _paper_body(db, arxiv_id))
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
async def paper_markdown(
    settings: SettingsDep, db: DatabaseDep, cache: CacheDep, arxiv_id: str
) -> Response:
    """The paper page as markdown: title, authors, dates, upvotes, links, abstract (what
    ``HfApi.read_paper`` returns). Unknown → 404."""
    body = await cached(
        cache, db, ("markdown", arxiv_id), lambda: _markdown_body(db, settings, arxiv_id)
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


def _search_body(db: Database, settings: Settings, query: str, limit: int) -> bytes:
    """``mode + b"\n" + JSON array``: mode is hybrid, keyword (no embedder: keyword only) or
    id; ``b"!" + message`` for a malformed query (cached too)."""
    from paperfeed.search import hybrid
    from paperfeed.search.query import QueryError

    try:
        result = hybrid.search(db, settings, query, page_size=limit, conjunctive=True)
    except QueryError as exc:
        return b"!" + str(exc).encode()
    first = result.mode + (" indexing" if result.indexing else "")
    return first.encode() + b"\n" + serialize.paper_list_bytes(result.items)


def _paper_body(db: Database, arxiv_id: str) -> bytes:
    with db.read() as session:
        detail = feed.get_paper(session, arxiv_id)
    return serialize.paper_bytes(detail) if detail else b""


def _markdown_body(db: Database, settings: Settings, arxiv_id: str) -> bytes:
    with db.read() as session:
        detail = feed.get_paper(session, arxiv_id)
    return serialize.paper_markdown(detail, settings.base_url).encode() if detail else b""
