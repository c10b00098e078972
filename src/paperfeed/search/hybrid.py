"""The search service: query → keyword and semantic candidates → fusion → a page of papers.

1. The query is parsed (:mod:`paperfeed.search.query`). An arXiv id or URL goes straight to
   that paper.
2. Keyword candidates come from the keyword index (BM25 over any of the words; the API
   keeps its every-word contract), with the filters (category, dates, has-code,
   authors, phrases) applied inside the index, before ranking.
3. Semantic candidates come from ``paperfeed.search.vectors`` (when the embedder is
   available). The query's embedding (5–25 ms, the slow part) and its nearest papers are
   computed in the caller's thread while the keyword side (its search, the named authors,
   the every-word count) runs in a small per-process thread pool (ONNX Runtime and tantivy
   release the GIL): the longer side needs no hand-over between threads, which cost up to a
   few ms on busy cores (benchmarks/RESULTS.md). The nearest papers are looked up among
   those that meet the same filters: the keyword index lists
   their ids, and the vector search ranks only those (``allowed_ids``). When the filters keep
   more than ``ALLOWED_CAP`` papers, the vector search returns more candidates and those that
   fail the filters are dropped; either way the filters apply before the page is cut.
4. Both lists are fused by weighted reciprocal rank fusion (score = 1/(k + keyword rank) +
   w/(k + semantic rank), ``search_rrf_k`` and ``search_semantic_weight``, fitted on the
   known-item sets' dev half; equal BM25 scores share a rank); ties go to the more upvoted,
   then newer paper; papers with an author the query names come first
   (``search/fusion.py``). The page and the API rank the same way.
5. Hits are joined back to the database: a paper the index knows but the database does not
   (deleted, or not committed) is never shown.

When the embedder is unavailable (or fails), the result is keyword-only and says so
(``mode == "keyword"`` with a ``notice``).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, String, select, type_coerce
from sqlalchemy.orm import Session

from paperfeed import papers
from paperfeed.config import Settings
from paperfeed.papers import FeedItem
from paperfeed.search.fusion import fuse
from paperfeed.search.keyword import KeywordIndex, get_keyword_index
from paperfeed.search.keyword_sync import IndexBusy
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.store.db import Database
from paperfeed.store.models import Paper

log = logging.getLogger(__name__)
_T = TypeVar("_T")

ALLOWED_CAP = 50_000
OVERSAMPLE = 4
INLINE_SYNC_MAX = 5000
MAX_PAGE_DEPTH = 1000
# Up to this many rows (the page, the ones before it, one more), the join-back selects whole
# papers; beyond it, the ids and sort keys, then the page's papers in a second statement.
WHOLE_ROWS_MAX = 100
SEMANTIC_UNAVAILABLE = "Semantic search is unavailable right now: these are keyword matches only."
INDEXING = "The search index is still being built: some papers are not found yet."
# The keyword side runs in a thread pool while the caller embeds the query (False: after the
# semantic side, in the caller's thread; the results are the same).
EMBED_CONCURRENTLY = True
EMBED_THREADS = 4


class VectorSearchLike(Protocol):
    def embed_query(self, query: str) -> Any: ...

    def nearest(
        self, vector: Any, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]: ...


@dataclass(slots=True)
class SearchResult:
    query: ParsedQuery
    items: list[FeedItem] = field(default_factory=list)
    total: int = 0  # papers found (keyword matches or fused candidates, whichever is more)
    # With ``count``: papers whose title, abstract or authors have every word (and meet the
    # filters); None when not counted.
    every_word: int | None = None
    page: int = 1
    page_size: int = 20
    has_more: bool = False
    mode: str = "keyword"  # "hybrid", "keyword" (no semantic part), "id" (an arXiv id)
    notice: str | None = None
    did_you_mean: FeedItem | None = None  # the paper an id-like word names
    indexing: bool = False  # the keyword index was far behind the database at its last check

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def vector_search(settings: Settings) -> VectorSearchLike | None:
    """The semantic engineer's vector search, or None when it is missing or unavailable."""
    try:
        module: Any = importlib.import_module("paperfeed.search.vectors")
    except ImportError:
        return None
    try:
        found: VectorSearchLike | None = module.get_vector_search(settings)
    except Exception:  # an embedder that cannot load must not break keyword search
        log.exception("vector search unavailable")
        return None
    return found


def warm_up(settings: Settings) -> bool:
    """Load what the first search needs (the keyword index, the embedding model, its query
    session and the vector index), so that no reader waits for it; a web worker calls this
    before it accepts requests. True when semantic search is ready. Never raises: what
    fails to load is logged and loaded again at the first search."""
    try:
        get_keyword_index(settings)
        vectors = vector_search(settings)
        warm = getattr(vectors, "warm", None)
        if warm is None:
            return False
        warm()
    except Exception:
        log.exception("warming up search failed; the first search loads what it needs")
        return False
    return True


# --- keeping the keyword index fresh -------------------------------------------------------

_sync_lock = threading.Lock()
_last_check: dict[str, float] = {}
# Indexes found more than INLINE_SYNC_MAX papers behind at their last check (a restored
# database, an interrupted ingest): their searches say so until a catch-up completes.
_far_behind: set[str] = set()


def is_indexing(index: KeywordIndex) -> bool:
    return str(index.path) in _far_behind


def ensure_fresh(index: KeywordIndex, db: Database, settings: Settings) -> None:
    """Catch the index up with the database at most every ``search_sync_seconds``.

    The first check in a process (and every check when the interval is 0) runs inline when
    at most ``INLINE_SYNC_MAX`` papers are pending, so a search right after a small ingest
    sees its papers; anything bigger, and every later check, runs in a background thread so
    a search never waits for it (the ingest command and ``paperfeed index update`` do the
    big catch-ups)."""
    key = str(index.path)
    now = time.monotonic()
    last = _last_check.get(key)
    interval = settings.search_sync_seconds
    if last is not None and now - last < interval:
        return
    _last_check[key] = now
    if last is None or interval <= 0:
        far = index.pending(db, INLINE_SYNC_MAX + 1) > INLINE_SYNC_MAX
        _mark(key, far)
        if not far:
            _sync(index, db)
            return
    threading.Thread(target=_sync, args=(index, db), daemon=True).start()


def _mark(key: str, far_behind: bool) -> None:
    if far_behind:
        _far_behind.add(key)
    else:
        _far_behind.discard(key)


def _sync(index: KeywordIndex, db: Database) -> None:
    if not _sync_lock.acquire(blocking=False):
        return
    key = str(index.path)
    try:
        if key in _far_behind:  # still? (another process may have caught it up)
            _mark(key, index.pending(db, INLINE_SYNC_MAX + 1) > INLINE_SYNC_MAX)
        if index.is_behind(db):
            index.update(db)
        _mark(key, False)
    except IndexBusy:
        pass  # another process is updating it
    except Exception:
        log.exception("keyword index sync failed")
    finally:
        _sync_lock.release()


# --- the keyword side beside the query's embedding ----------------------------------------

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    """This process's pool for the keyword sides of searches (a forked worker makes its
    own)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(EMBED_THREADS, thread_name_prefix="paperfeed-search")
            _pool_pid = os.getpid()
        return _pool


def _in_background(job: Callable[[], _T]) -> Callable[[], _T]:
    """Start ``job``; the returned call gives its result (raising what it raised)."""
    if not EMBED_CONCURRENTLY:
        return job
    future: Future[_T] = _search_pool().submit(job)
    return future.result


# --- fusion --------------------------------------------------------------------------------


def _named(
    index: KeywordIndex, parsed: ParsedQuery, keyword_hits: list[tuple[int, float]]
) -> set[int]:
    """The keyword hits with an author the query names (``fuse`` lifts them first)."""
    return index.named_ids(parsed, [pid for pid, _ in keyword_hits]) if parsed.words else set()


# --- the service ---------------------------------------------------------------------------


def search(
    db: Database,
    settings: Settings,
    query: str | ParsedQuery,
    *,
    page: int = 1,
    page_size: int = 20,
    count: bool = False,
    semantic: bool = True,
    conjunctive: bool | None = False,
) -> SearchResult:
    """One page of results for ``query`` (a string in the query language, or parsed).

    ``conjunctive``: False (default) ranks every paper with any of the words by BM25 (more
    of the words rank higher), which finds half-remembered papers best (benchmarks/RESULTS.md,
    issue 16): the page and the API both rank this way; True keeps only keyword matches of
    every word (the API's ``match=all``); None tries every word first. ``count``: the papers
    with every word are counted into ``every_word`` (with words), or all matches into
    ``total`` (filters only).

    Raises :class:`paperfeed.search.query.QueryError` for a malformed filter."""
    parsed = parse_query(query) if isinstance(query, str) else query
    result = SearchResult(query=parsed, page=page, page_size=page_size)
    if parsed.arxiv_id:
        return _by_id(db, parsed.arxiv_id, result)
    if parsed.is_empty:
        return result

    vectors = vector_search(settings) if semantic and parsed.words else None
    index = get_keyword_index(settings)
    ensure_fresh(index, db, settings)
    depth = min(MAX_PAGE_DEPTH, max(settings.search_candidates, page * page_size + 1))
    side = functools.partial(_keyword_side, index, parsed, depth, count, conjunctive)
    semantic_on = semantic and bool(parsed.words)
    # The keyword side runs in the pool while this thread embeds the query and looks up its
    # nearest papers (the longer side, here: no thread hand-over on its path).
    embeds = semantic_on and vectors is not None and bool(parsed.semantic_text.strip())
    keyword_side = _in_background(side) if embeds else side
    semantic_hits: list[tuple[int, float]] = []
    if semantic_on:
        semantic_hits = _semantic_side(result, index, vectors, parsed, depth)
    keyword = keyword_side()
    result.indexing = is_indexing(index)
    result.every_word = keyword.every_word
    ranked, scores = fuse(keyword.hits, semantic_hits, settings, bool(parsed.words), keyword.named)
    start = (page - 1) * page_size
    with db.quick_read() as session:
        found = _join_back(session, db, ranked, scores, bool(parsed.words), start, page_size)
        if parsed.id_hint:
            detail = papers.get_paper(session, parsed.id_hint)
            result.did_you_mean = detail.item if detail else None
    result.items = _scored_items(found, scores)
    result.total = max(keyword.total, len(ranked) - found.missing)
    result.has_more = found.has_more
    if result.indexing:
        result.notice = f"{INDEXING} {result.notice}" if result.notice else INDEXING
    return result


def _scored_items(found: _Joined, scores: dict[int, float]) -> list[FeedItem]:
    """The page's papers in ranked order, each with its fused score."""
    items = []
    for pid in found.shown:
        item = found.by_id.get(pid)
        if item is not None:
            item.score = scores.get(pid)
            items.append(item)
    return items


def _by_id(db: Database, arxiv_id: str, result: SearchResult) -> SearchResult:
    """The answer to a query that is an arXiv id: that paper, or a notice."""
    with db.read() as session:
        detail = papers.get_paper(session, arxiv_id)
    result.mode = "id"
    if detail is not None:
        result.items, result.total = [detail.item], 1
    else:
        result.notice = f"No paper with id {arxiv_id} on this site."
    return result


# --- the two sides ---------------------------------------------------------------------------


@dataclass(slots=True)
class _KeywordSide:
    hits: list[tuple[int, float]]
    total: int
    named: set[int]  # hits with an author the query names
    every_word: int | None  # the papers with every word, when counted


def _keyword_side(
    index: KeywordIndex, parsed: ParsedQuery, depth: int, count: bool, conjunctive: bool | None
) -> _KeywordSide:
    """The keyword index's hits, the named authors among them and, with ``count`` and
    words, the every-word count."""
    # Counting every paper with any of the words costs as much as the search itself and
    # means little; with words, the count is of the papers with all of them.
    keyword = index.search(parsed, depth, count=count and not parsed.words, conjunctive=conjunctive)
    named = _named(index, parsed, keyword.hits)
    every_word = index.count(parsed, conjunctive=True) if count and parsed.words else None
    return _KeywordSide(keyword.hits, keyword.total, named, every_word)


def _semantic_side(
    result: SearchResult,
    index: KeywordIndex,
    vectors: VectorSearchLike | None,
    parsed: ParsedQuery,
    depth: int,
) -> list[tuple[int, float]]:
    """The semantic side's hits (the query embedded, then its nearest papers that meet the
    filters), with ``result``'s mode or notice set: hybrid, or keyword only when the vector
    search is missing or failed."""
    if vectors is None:
        result.notice = SEMANTIC_UNAVAILABLE
        return []
    hits: list[tuple[int, float]] = []
    text = parsed.semantic_text
    try:
        if text.strip():
            hits = _semantic(index, vectors, parsed, depth, vectors.embed_query(text))
        result.mode = "hybrid"
    except Exception:
        log.exception("semantic search failed; keyword results only")
        result.notice = SEMANTIC_UNAVAILABLE
    return hits


# --- join-back -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Joined:
    shown: list[int]  # the page's paper ids, in order
    by_id: dict[int, FeedItem]  # their items (a paper deleted meanwhile is absent)
    missing: int  # candidates looked at that the database does not have
    has_more: bool


def _join_back(
    session: Session,
    db: Database,
    ranked: list[int],
    scores: dict[int, float],
    by_score: bool,
    start: int,
    page_size: int,
) -> _Joined:
    """The page of ``ranked`` from the database: only committed papers are shown, ties
    broken by upvotes and date.

    Best score first (filters only: newest first, as the index returned them). Only as
    many candidates as the page needs are joined back to the database, in windows that
    never split a tie (ties are broken by upvotes and date, which the database has).
    Joining every candidate to order them was a visible share of a 1M-paper search
    (benchmarks/RESULTS.md). For the
    first pages the window's rows carry the whole papers, so the page needs no second
    statement (on PostgreSQL each statement is a round trip to a server on the same cores)."""

    def score(pid: int) -> float:
        return round(scores.get(pid, 0.0), 9)

    need = start + page_size + 1  # one more tells whether there is a next page
    whole = need <= WHOLE_ROWS_MAX
    statement = _join_statement(db, whole)
    connection = session.connection()
    rows: list[Any] = []
    taken = 0
    while taken < len(ranked) and len(rows) < need:
        end = min(len(ranked), taken + need - len(rows))
        if by_score:
            while end < len(ranked) and score(ranked[end]) == score(ranked[end - 1]):
                end += 1
        rows += connection.execute(statement, {"ids": ranked[taken:end]})
        taken = end
    if by_score:
        # Ties: more upvotes, then newer, then lower id (stable sorts, least significant
        # key first).
        rows.sort(key=lambda row: row[0])
        rows.sort(key=lambda row: _sortable_time(row[2]), reverse=True)
        rows.sort(key=lambda row: (score(row[0]), row[1]), reverse=True)
    else:
        position = {pid: i for i, pid in enumerate(ranked[:taken])}
        rows.sort(key=lambda row: position[row[0]])
    ordered = [row[0] for row in rows]
    shown = ordered[start : start + page_size]
    if whole:
        by_id = {row[0]: papers.item_from_row(tuple(row)[3:]) for row in rows[start:]}
    else:
        by_id = papers.items_by_paper_ids(session, shown)
    return _Joined(shown, by_id, taken - len(rows), len(ordered) > start + page_size)


_join_statements: dict[tuple[type, bool], Select[Any]] = {}


def _join_statement(db: Database, whole: bool) -> Select[Any]:
    """The join-back's SELECT (ids as parameter ``ids``), built once per database kind: run
    on the session's connection (Core, no ORM layer), it costs half of building and running
    it on the session each time (0.7 → 0.4 ms for a page on SQLite, benchmarks/RESULTS.md)."""
    key = (type(db.ops), whole)
    found = _join_statements.get(key)
    if found is None:
        columns = (
            Paper.id,
            Paper.imported_upvotes + Paper.user_upvotes,
            # The time as the driver gives it (SQLite: ISO text, which sorts as the time does).
            type_coerce(Paper.published_at, String),
            *(papers.item_columns() if whole else ()),
        )
        found = _join_statements[key] = select(*columns).where(db.ops.among_bound(Paper.id))
    return found


def _sortable_time(value: str | dt.datetime | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.isoformat(" ")


def _semantic(
    index: KeywordIndex, vectors: VectorSearchLike, parsed: ParsedQuery, depth: int, vector: Any
) -> list[tuple[int, float]]:
    """Semantic candidates (nearest to the query's ``vector``) that meet the query's filters
    and phrases."""
    if not parsed.has_constraints:
        return vectors.nearest(vector, depth)
    allowed = index.filter_ids(parsed, ALLOWED_CAP)
    if allowed is not None:
        return vectors.nearest(vector, depth, allowed_ids=allowed) if allowed else []
    # Too many papers pass the filters to list them: the filters keep most papers, so ask
    # for more and keep those that pass.
    hits = vectors.nearest(vector, depth * OVERSAMPLE)
    passing = index.ids_passing(parsed, [pid for pid, _ in hits])
    return [(pid, score) for pid, score in hits if pid in passing][:depth]


def feed_items(db: Database, settings: Settings, query: str, limit: int) -> list[FeedItem]:
    """Newest papers matching every word and filter of ``query``, newest first (the search
    feeds: RSS/Atom of new matches)."""
    parsed = parse_query(query)
    if parsed.arxiv_id or parsed.is_empty:
        return search(db, settings, parsed, page_size=limit, semantic=False).items
    index = get_keyword_index(settings)
    ensure_fresh(index, db, settings)
    hits = index.search(parsed, limit, conjunctive=True, newest_first=True).hits
    ids = [pid for pid, _ in hits]
    with db.read() as session:
        by_id = papers.items_by_paper_ids(session, ids)
    return [by_id[pid] for pid in ids if pid in by_id]
