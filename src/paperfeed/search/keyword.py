"""The keyword index: BM25 over titles (weighted highest), authors and abstracts, in tantivy.

It is derived data. The database is the source of truth; this index lives on the node's own
disk (``settings.data_dir/index/keyword``), is built from the database, follows it by the
``papers.modified_at`` watermark, and can be thrown away and rebuilt at any time
(``paperfeed index rebuild``). Callers join its hits back to the database, so a paper that is
not committed (or was deleted since) is never shown.

:class:`KeywordIndex` is one node's index as a process sees it (opened once per path, reloaded
when another process commits, reopened when a rebuild swaps the folder). What it holds is in
:mod:`~paperfeed.search.keyword_schema`, how it is asked in
:mod:`~paperfeed.search.keyword_query`, how it follows the database in
:mod:`~paperfeed.search.keyword_sync`.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.search import keyword_query, keyword_sync
from paperfeed.search.keyword_query import CONJUNCTIVE_MAX_TERMS, KeywordHits
from paperfeed.search.keyword_schema import (
    SCHEMA_VERSION,
    new_generation,
    read_state,
    schema,
    write_state,
)
from paperfeed.search.query import ParsedQuery
from paperfeed.store.db import Database
from paperfeed.store.models import Paper

RELOAD_CHECK_SECONDS = 1.0


class KeywordIndex:
    """One node's keyword index in ``path``. Safe to share between threads of a process."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self.schema = schema()
        # Held while the index is opened, updated or rebuilt.
        self.lock = threading.RLock()
        self._index: tantivy.Index | None = None
        self._generation: str | None = None
        self._checked = 0.0
        self.reopen()

    # --- opening and state ---------------------------------------------------------------

    def reopen(self) -> None:
        """Open the index in ``path`` (empty when missing or of another schema version)."""
        self.path.mkdir(parents=True, exist_ok=True)
        state = self.read_state()
        if state.get("schema") != SCHEMA_VERSION or not tantivy.Index.exists(str(self.path)):
            # First use, or an index written by an older schema: start empty (rebuild fills it).
            for child in self.path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            self._index = tantivy.Index(self.schema, path=str(self.path), reuse=False)
            fresh = {"schema": SCHEMA_VERSION, "watermark": None, "generation": new_generation()}
            write_state(self.path, fresh)
            state = self.read_state()
        else:
            self._index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self._generation = str(state.get("generation"))

    @property
    def index(self) -> tantivy.Index:
        """The tantivy index, reopened when a rebuild swapped the folder, and reloaded when
        another process committed (checked at most once a second)."""
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            self._checked = now
            with self.lock:
                generation = str(self.read_state().get("generation"))
                if generation != self._generation:
                    self.reopen()
                elif self._index is not None:
                    self._index.reload()
        assert self._index is not None
        return self._index

    def read_state(self) -> dict[str, Any]:
        return read_state(self.path)

    def watermark(self) -> dt.datetime | None:
        raw = self.read_state().get("watermark")
        return dt.datetime.fromisoformat(raw) if raw else None

    def num_docs(self) -> int:
        return int(self.index.searcher().num_docs)

    def num_docs_unlocked(self) -> int:
        assert self._index is not None
        self._index.reload()
        return int(self._index.searcher().num_docs)

    # --- search ----------------------------------------------------------------------------

    def search(
        self,
        parsed: ParsedQuery,
        k: int,
        *,
        conjunctive: bool | None = None,
        count: bool = False,
        newest_first: bool = False,
    ) -> KeywordHits:
        """The ``k`` best papers for ``parsed``, filters applied inside the index (before
        ranking). ``conjunctive=None``: every word must match if any paper has them all,
        else any word may. ``newest_first`` orders matches by publication day instead."""
        if conjunctive is None and len(parsed.terms) > CONJUNCTIVE_MAX_TERMS:
            # A paragraph hardly ever has every word in one paper: skip the attempt.
            conjunctive = False
        if conjunctive is None:
            first = self.search(parsed, k, conjunctive=True, count=count, newest_first=newest_first)
            if first.hits or len(parsed.terms) < 2:
                return first
            return self.search(parsed, k, conjunctive=False, count=count, newest_first=newest_first)
        return keyword_query.search(
            self.index,
            self.schema,
            parsed,
            k,
            conjunctive=conjunctive,
            count=count,
            newest_first=newest_first,
        )

    def doc_freqs(self, terms: Sequence[str]) -> tuple[int, dict[str, int]]:
        """The number of papers, and how many abstracts hold each of ``terms``."""
        searcher = self.index.searcher()
        return int(searcher.num_docs), keyword_query.doc_freqs(searcher, terms)

    def any_word(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """The ``k`` best papers for any of ``terms``, all kept (``keyword_query.any_word``)."""
        return keyword_query.any_word(self.index, terms, k)

    def count(self, parsed: ParsedQuery, *, conjunctive: bool) -> int:
        """How many papers match ``parsed`` (every word when ``conjunctive``)."""
        return keyword_query.search(
            self.index,
            self.schema,
            parsed,
            1,
            conjunctive=conjunctive,
            count=True,
            newest_first=False,
        ).total

    def named_ids(self, parsed: ParsedQuery, ids: list[int]) -> set[int]:
        """Which of ``ids`` have an author the query's words name."""
        return keyword_query.named_ids(self.index, self.schema, parsed, ids)

    def filter_ids(self, parsed: ParsedQuery, cap: int) -> list[int] | None:
        """Ids of every paper meeting the query's filters and phrases; None when there are
        more than ``cap`` (the caller then checks candidates one by one instead)."""
        return keyword_query.filter_ids(self.index, self.schema, parsed, cap)

    def ids_passing(self, parsed: ParsedQuery, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` meet the query's filters and phrases."""
        return keyword_query.ids_passing(self.index, self.schema, parsed, ids)

    def all_ids(self) -> set[int]:
        return set(self.id_counts())

    def id_counts(self) -> dict[int, int]:
        """How many live documents hold each paper id (1, unless duplicated)."""
        return keyword_query.id_counts(self.index)

    # --- following the database --------------------------------------------------------------

    def update(self, db: Database, *, progress: bool = False) -> dict[str, int]:
        """Bring the index up to the database: changed papers re-indexed, deleted ones
        removed. Returns counts: ``indexed``, ``deleted``, ``documents``."""
        return keyword_sync.update(self, db)

    def rebuild(self, db: Database, *, progress: bool = False) -> dict[str, int]:
        """Build a new index from the whole database beside the live one, then swap it in;
        searches keep using the old one until then."""
        return keyword_sync.rebuild(self, db)

    def status(self, db: Database) -> dict[str, object]:
        watermark = self.watermark()
        with db.read() as session:
            papers = session.scalar(select(func.count()).select_from(Paper)) or 0
            pending = (
                session.scalar(
                    select(func.count()).select_from(Paper).where(Paper.modified_at > watermark)
                )
                if watermark
                else papers
            )
        return {
            "path": str(self.path),
            "papers": papers,
            "documents": self.num_docs(),
            "pending": pending or 0,
            "watermark": watermark.isoformat() if watermark else None,
            "size_bytes": _size(self.path),
        }

    def pending(self, db: Database, limit: int) -> int:
        """Papers changed after the watermark (all of them before the first build), counted
        up to ``limit``."""
        watermark = self.watermark()
        stmt = select(Paper.id)
        if watermark is not None:
            stmt = stmt.where(Paper.modified_at > watermark)
        with db.read() as session:
            counted = session.scalar(select(func.count()).select_from(stmt.limit(limit).subquery()))
        return int(counted or 0)

    def is_behind(self, db: Database) -> bool:
        """True when the database has papers changed after the watermark, or a different
        number of papers than the index holds."""
        watermark = self.watermark()
        with db.read() as session:
            newest = session.scalar(select(func.max(Paper.modified_at)))
            count = session.scalar(select(func.count()).select_from(Paper)) or 0
        if newest is not None and (watermark is None or newest > watermark):
            return True
        return count != self.num_docs()


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


_INDEXES: dict[Path, KeywordIndex] = {}
_INDEXES_LOCK = threading.Lock()


def keyword_index_path(settings: Settings) -> Path:
    return _resolved(settings.data_dir / "index" / "keyword")


@lru_cache(maxsize=64)
def _resolved(path: Path) -> Path:
    # Once per path and process: resolving walks the path with an lstat per component, slow
    # on some file systems, and a search would pay it every time.
    return path.resolve()


def get_keyword_index(settings: Settings) -> KeywordIndex:
    """This process's handle on the node's keyword index (opened once per path)."""
    path = keyword_index_path(settings)
    with _INDEXES_LOCK:
        found = _INDEXES.get(path)
        if found is None:
            found = _INDEXES[path] = KeywordIndex(path, settings)
        return found
