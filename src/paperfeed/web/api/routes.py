"""Routes of the JSON API (``/api/...``), the markdown paper pages (``/papers/{id}.md``) and
their BibTeX entries (``/papers/{id}.bib``).

Speed: a route validates its parameters, builds a normalised cache key and looks the rendered
answer (a ``CachedPage``) up in the worker's cache (``CacheDep``) without leaving the event
loop. Only on a miss does it query the database, where ``web/deps.py``'s rule puts the work
(``deps.cached``): a short read on the loop on SQLite, else in the thread pool with at most one
computation per key in flight per worker (concurrent misses wait for it; an entry past its time
is served while one refresh runs); search and similar papers always in the thread pool. Bodies
are orjson bytes returned as a ``Response``, so FastAPI skips ``jsonable_encoder``;
``response_model`` only documents the shape in ``/openapi.json``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paperfeed import papers
from paperfeed.config import Settings
from paperfeed.papers.citation import bibtex
from paperfeed.papers.names import Kind
from paperfeed.params import parse_day, parse_month, parse_name, parse_week
from paperfeed.search import hybrid
from paperfeed.search.query import QueryError
from paperfeed.search.similar import similar_items
from paperfeed.store.db import Database
from paperfeed.web import deps
from paperfeed.web.api import serialize
from paperfeed.web.api.schemas import (
    ERROR_RESPONSES,
    NOT_FOUND_RESPONSES,
    DailyPaper,
    ErrorBody,
    NamedPapersOut,
    Paper,
)
from paperfeed.web.cache import CachedPage, PageCache
from paperfeed.web.deps import CacheDep, DatabaseDep, SettingsDep, cached

router = APIRouter(prefix="/api", tags=["papers"])
markdown_router = APIRouter(tags=["papers"])

MAX_LIMIT = 100
MAX_PAGE = 100_000
JSON = "application/json"
MARKDOWN = "text/markdown; charset=utf-8"
BIBTEX = "application/x-bibtex; charset=utf-8"
# The markdown twin is also the answer of /papers/{id} to an Accept that prefers it.
VARY = (("vary", "Accept"),)

MAX_REMEMBERED_QUERIES = 4096

Sort = Literal["publishedAt", "trending"]
Match = Literal["any", "all"]
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


def _doc(model: Any, errors: dict[int | str, dict[str, object]]) -> dict[str, Any]:
    """A route's decorator arguments for ``/openapi.json``: the model of its answer (written
    by hand, see the top) and its error answers."""
    return {"response_model": model, "responses": errors}


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
    and the key to the cached answer. For the same reason it reads its services through the
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
    page = await deps.cached(
        deps.cache_of(request),
        db,
        key,
        lambda: _json(_daily_body(db, settings, period, sort, who, p, limit)),
    )
    return page.response()


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
    period = _parse_period(*given[0]) if given else None
    return ("daily_papers", period, query.sort, submitter or None, query.p, query.limit)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e.get('loc', ())) or 'query'}: {e.get('msg')}"
        for e in exc.errors()
    )


@router.get("/papers/search", summary="Search papers", **_doc(list[Paper], ERROR_RESPONSES))
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
    match: Annotated[
        Match,
        Query(
            description=(
                "`any` (default): ranked as the search page ranks, papers with more of the "
                "words first; `all`: keyword matches must contain every word."
            )
        ),
    ] = "any",
) -> Response:
    """Hybrid search (keyword BM25 fused with semantic similarity), best first, as a bare
    JSON array of paper objects (what ``HfApi.list_papers(query=...)`` reads), in the same
    order as the search page ``/search`` for the same query.

    The keyword part ranks papers whose title, abstract or authors contain the words of
    ``q`` (case-insensitive, English stemming; with ``match=all`` only papers with every
    word); the semantic part adds papers close in
    meaning when the embedder is available (otherwise results are keyword-only; the
    ``X-Search-Mode`` header says ``hybrid``, ``keyword`` or ``id``; ``X-Search-Indexing: 1``
    says the keyword index is still catching up with the database). Filters in
    ``q`` apply before ranking. Ties go to the more upvoted paper. An arXiv id or URL
    returns that paper. A missing or blank ``q`` returns an empty array; a malformed filter
    (``year:soon``) is a 400 with a JSON ``error``."""
    query = " ".join((q or "").split())
    if not query:
        return Response(b"[]", media_type=JSON)
    page = await cached(
        cache,
        db,
        ("search", query, limit, match),
        lambda: _search_page(db, settings, query, limit, match == "all"),
        long=True,  # the embedder
    )
    return _answer(page)


@router.get(
    "/papers/{arxiv_id:arxiv}/similar",
    summary="Similar papers",
    **_doc(list[Paper], NOT_FOUND_RESPONSES),
)
async def similar_papers(
    settings: SettingsDep,
    db: DatabaseDep,
    cache: CacheDep,
    arxiv_id: str,
    limit: Annotated[int, Query(ge=1, le=50, description="Most papers returned.")] = 10,
) -> Response:
    """The papers most similar to this one: its nearest neighbours in the semantic index
    (all-MiniLM-L6-v2 embeddings of title and abstract) fused with a keyword search of its
    most distinctive words, most similar first, itself excluded, as a bare JSON array of paper
    objects. Empty when semantic search is off. Unknown paper → 404 ``{"error": ...}``."""

    def compute() -> CachedPage:
        items = similar_items(db, settings, arxiv_id, limit)
        return _not_found(arxiv_id) if items is None else _json(serialize.paper_list_bytes(items))

    return _answer(await cached(cache, db, ("similar", arxiv_id, limit), compute, long=True))


@router.get("/papers/{arxiv_id:arxiv}", summary="One paper", **_doc(Paper, NOT_FOUND_RESPONSES))
async def paper_info(db: DatabaseDep, cache: CacheDep, arxiv_id: str) -> Response:
    """One paper by arXiv id (``2501.01234`` or old-style ``hep-th/9901001``). A versioned
    id (``2501.01234v2``) serves the paper. Unknown → 404 ``{"error": ...}``."""
    return _answer(await cached(cache, db, ("paper", arxiv_id), lambda: _paper_page(db, arxiv_id)))


def _text_responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The documented answers of a paper's text twin (markdown, BibTeX)."""
    return {
        200: {"content": {media_type: {}}, "description": description},
        404: {"model": ErrorBody, "description": "No such paper."},
    }


@markdown_router.get(
    "/papers/{arxiv_id:arxiv}.md",
    response_class=Response,
    responses=_text_responses("text/markdown", "The paper page as markdown."),
    summary="One paper as markdown",
)
async def paper_markdown(
    settings: SettingsDep, db: DatabaseDep, cache: CacheDep, arxiv_id: str
) -> Response:
    """The paper page as markdown: title, authors, dates, upvotes, links, abstract (what
    ``HfApi.read_paper`` returns). Unknown → 404. ``/papers/{arxiv_id}`` answers the same to
    a request that prefers ``text/markdown`` (``Accept``)."""
    return await markdown_answer(settings, db, cache, arxiv_id)


async def markdown_answer(
    settings: Settings, db: Database, cache: PageCache, arxiv_id: str
) -> Response:
    """The markdown twin of a paper's page (a 404 too: as markdown, not the API's JSON
    error), from the worker's cache."""
    page = await cached(
        cache, db, ("markdown", arxiv_id), lambda: _markdown_page(db, settings, arxiv_id)
    )
    return page.response()


@markdown_router.get(
    "/papers/{arxiv_id:arxiv}.bib",
    response_class=Response,
    responses=_text_responses("application/x-bibtex", "A BibTeX entry."),
    summary="One paper's BibTeX entry",
)
async def paper_bibtex(db: DatabaseDep, cache: CacheDep, arxiv_id: str) -> Response:
    """The paper's citation as a BibTeX ``@misc`` entry (arXiv's eprint fields, the DOI when
    known). Unknown → 404."""
    return (
        await cached(cache, db, ("bibtex", arxiv_id), lambda: _bibtex_page(db, arxiv_id))
    ).response()


PageNumber = Annotated[int, Query(ge=0, le=MAX_PAGE, description="Page number, from 0.")]
PageSize = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Papers per page.")]
NAME_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "Malformed name or parameter."},
    404: {"model": ErrorBody, "description": "No paper has this name."},
}


@router.get(
    "/authors/{name:path}",
    response_model=NamedPapersOut,
    responses=NAME_RESPONSES,
    summary="An author's papers",
    description=(
        "The papers with an author of this name, newest publication first (the JSON twin "
        "of ``/authors/{name}``). The name matches whatever its case, accents and spacing, "
        "but whole: ``He`` is only an author called ``He``. ``p`` and ``limit`` page through "
        "them. A name no paper has → 404; a blank one, or one over 200 characters → 400."
    ),
)
@router.get(
    "/orgs/{name:path}",
    response_model=NamedPapersOut,
    responses=NAME_RESPONSES,
    summary="An organization's papers",
    description=(
        "The papers of an organization (as Hugging Face's listings name it), newest first "
        "(the JSON twin of ``/orgs/{name}``), matched and paged as an author's."
    ),
)
async def named_papers(
    request: Request,
    db: DatabaseDep,
    cache: CacheDep,
    name: str,
    p: PageNumber = 0,
    limit: PageSize = 50,
) -> Response:
    kind: Kind = "org" if request.scope["route"].path_format.startswith("/api/orgs/") else "author"
    return _answer(await _named(db, cache, kind, name, p, limit))


async def _named(
    db: Database, cache: PageCache, kind: Kind, raw: str, p: int, limit: int
) -> CachedPage:
    name = parse_name(raw)

    def compute() -> CachedPage:
        with db.read() as session:
            found = papers.papers_by_name(session, kind, name, p * limit, limit)
        if found is None:
            return CachedPage(404, JSON, f"no paper has the {kind} {name[:80]!r}".encode())
        body = {"name": found.name, "total": found.total, "papers": found.items}
        return _json(serialize.named_papers_bytes(body))

    return await cached(cache, db, ("names", kind, name, p, limit), compute)


def _parse_period(name: str, value: str) -> Period:
    if name == "date":
        day = parse_day(value)
        return day, day + dt.timedelta(days=1)
    if name == "week":
        return parse_week(value)
    return parse_month(value)


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
                items = papers.trending_items(
                    session,
                    half_life_hours=settings.trending_half_life_hours,
                    window_days=settings.trending_window_days,
                    submitter=submitter,
                )[offset : offset + limit]
            else:
                items = papers.recent_items(session, offset, limit, submitter)
        else:
            start, end = period
            if sort == "trending":
                items = papers.period_trending_items(
                    session,
                    start,
                    end,
                    half_life_hours=settings.trending_half_life_hours,
                    submitter=submitter,
                )
            elif end - start == dt.timedelta(days=1):
                items = papers.day_items(session, start, submitter)
            else:
                items = papers.period_items(session, start, end, submitter)
            if sort == "publishedAt":
                items = papers.newest_first(items)
            items = items[offset : offset + limit]
    return serialize.daily_list_bytes(items)


def _search_page(
    db: Database, settings: Settings, query: str, limit: int, every_word: bool
) -> CachedPage:
    """The bare JSON array (the list_papers contract); how it was found is a header: hybrid,
    keyword (no embedder: keyword only) or id. A malformed query is a 400 (cached too)."""
    try:
        result = hybrid.search(db, settings, query, page_size=limit, conjunctive=every_word)
    except QueryError as exc:
        return CachedPage(400, JSON, str(exc).encode())
    headers = [("X-Search-Mode", result.mode)]
    if result.indexing:  # the keyword index is still catching up with the database
        headers.append(("X-Search-Indexing", "1"))
    return CachedPage(200, JSON, serialize.paper_list_bytes(result.items), tuple(headers))


def _paper_page(db: Database, arxiv_id: str) -> CachedPage:
    with db.read() as session:
        detail = papers.get_paper(session, arxiv_id)
    return _json(serialize.paper_bytes(detail)) if detail else _not_found(arxiv_id)


def _markdown_page(db: Database, settings: Settings, arxiv_id: str) -> CachedPage:
    with db.read() as session:
        detail = papers.get_paper(session, arxiv_id)
    if detail is None:
        return CachedPage(404, MARKDOWN, f"paper {arxiv_id[:64]!r} not found\n".encode(), VARY)
    body = serialize.paper_markdown(detail, settings.base_url).encode()
    return CachedPage(200, MARKDOWN, body, VARY)


def _bibtex_page(db: Database, arxiv_id: str) -> CachedPage:
    with db.read() as session:
        detail = papers.get_paper(session, arxiv_id)
    if detail is None:
        return CachedPage(404, BIBTEX, f"paper {arxiv_id[:64]!r} not found\n".encode())
    return CachedPage(200, BIBTEX, bibtex(detail.item).encode())


def _json(body: bytes) -> CachedPage:
    return CachedPage(200, JSON, body)


def _not_found(arxiv_id: str) -> CachedPage:
    return CachedPage(404, JSON, f"paper {arxiv_id[:64]!r} not found".encode())


def _answer(page: CachedPage) -> Response:
    """The cached answer; an error is raised, to be answered as every API error is."""
    if page.status >= 400:
        raise HTTPException(page.status, page.message)
    return page.response()
