"""The papers a reader can be recommended, in memory: every paper's embedding (the current
embedding model's, from ``paper_embeddings``) in order of first publication, so that a date
range is a slice. 4 bytes × 384 a paper (about 216 MB at 140,877 papers), one copy per
process, shared by every reader (the papers are public; no reader's data is kept here).
Beside them, row for row, each paper's tf-idf term row (``terms.py``; sparse, about 1.3 KB a
paper), weighed by the idf of the rows of the last full load. A paper loaded without stored
term counts (or with counts older than the paper) is counted here from its text, and the
pool then stores them (``terms.fill``), so a site that never ran ``index update`` still ranks.

The current embedding model is the one that wrote the newest embedding (search writes every
paper again when it changes). The matrix follows ``paper_embeddings`` by a watermark (its
newest ``embedded_at`` and its row count), checked at most every
``PAPERFEED_ANN_REFRESH_SECONDS``: new rows are merged in, anything else reloads it all.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.recommend import terms as term_rows
from paperfeed.store.db import Database
from paperfeed.store.embeddings import from_blob, table_state
from paperfeed.store.models import Paper, PaperEmbedding
from paperfeed.store.reader_models import PaperTerms

log = logging.getLogger(__name__)
# Rows written this long before the watermark are read again (late commits).
OVERLAP = dt.timedelta(seconds=60)
# The background sample is the same in every process of one corpus.
BACKGROUND_SEED = 18


@dataclass(frozen=True, slots=True)
class Candidates:
    """One immutable snapshot: row i is paper ``ids[i]``, first published on day
    ``days[i]`` (proleptic ordinal), embedded as ``vectors[i]`` (unit length), its words
    ``terms[i]`` (tf-idf by ``idf``, unit length or empty). ``counted``: papers whose term
    counts were counted at load, not read from ``paper_terms`` (the pool stores them)."""

    model: str | None
    ids: NDArray[np.int64]
    days: NDArray[np.int64]
    vectors: NDArray[np.float32]
    watermark: tuple[int, dt.datetime | None]
    terms: sparse.csr_matrix = field(default_factory=lambda: _no_terms(0))
    idf: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))
    counted: tuple[int, ...] = ()
    row_of: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.row_of.update({int(pid): i for i, pid in enumerate(self.ids)})

    def __len__(self) -> int:
        return len(self.ids)

    def span(self, start: dt.date, end: dt.date) -> slice:
        """The rows first published on ``start`` to ``end``, both included."""
        lo = int(np.searchsorted(self.days, start.toordinal(), side="left"))
        hi = int(np.searchsorted(self.days, end.toordinal(), side="right"))
        return slice(lo, max(lo, hi))

    def term_rows(self, span: slice) -> sparse.csr_matrix:
        """The term rows of a range of rows (``span``), as a view: no copy of its arrays."""
        t = self.terms
        lo, hi = int(t.indptr[span.start]), int(t.indptr[span.stop])
        indptr = t.indptr[span.start : span.stop + 1] - lo
        shape = (span.stop - span.start, t.shape[1])
        return sparse.csr_matrix((t.data[lo:hi], t.indices[lo:hi], indptr), shape=shape, copy=False)

    def rows(self, paper_ids: list[int]) -> NDArray[np.int64]:
        """The rows of those of ``paper_ids`` that have an embedding, in that order."""
        found = [self.row_of[p] for p in paper_ids if p in self.row_of]
        return np.asarray(found, dtype=np.int64)

    def background(self, size: int) -> NDArray[np.int64]:
        """``size`` rows drawn at random, the same for the same corpus in every process."""
        rng = np.random.default_rng(BACKGROUND_SEED)
        n = len(self.ids)
        if n <= size:
            return np.arange(n, dtype=np.int64)
        return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def _no_terms(rows: int) -> sparse.csr_matrix:
    return sparse.csr_matrix((rows, term_rows.COLUMNS), dtype=np.float32)


def _empty(model: str | None, mark: tuple[int, dt.datetime | None]) -> Candidates:
    return Candidates(
        model,
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros((0, 0), dtype=np.float32),
        mark,
    )


@dataclass(slots=True)
class _Parts:
    """Rows in publication order (then id), ``terms`` still counts when read."""

    ids: NDArray[np.int64]
    days: NDArray[np.int64]
    vectors: NDArray[np.float32]
    terms: sparse.csr_matrix
    counted: tuple[int, ...] = ()


def current_model(session: Session) -> str | None:
    """The embedding model of the newest embedding (None: nothing is embedded)."""
    return session.scalar(
        select(PaperEmbedding.model).order_by(PaperEmbedding.embedded_at.desc()).limit(1)
    )


def _rows(session: Session, model: str, since: dt.datetime | None) -> _Parts:
    published = func.coalesce(Paper.published_at, Paper.created_at)
    # term counts older than the paper count as missing (its text may have changed)
    current = or_(Paper.modified_at.is_(None), PaperTerms.paper_modified_at >= Paper.modified_at)
    stmt = (
        select(
            PaperEmbedding.paper_id,
            PaperEmbedding.vector,
            PaperEmbedding.dim,
            published,
            PaperTerms.counts,
        )
        .join(Paper, Paper.id == PaperEmbedding.paper_id)
        .outerjoin(PaperTerms, and_(PaperTerms.paper_id == Paper.id, current))
        .where(PaperEmbedding.model == model)
    )
    if since is not None:
        stmt = stmt.where(PaperEmbedding.embedded_at >= since - OVERLAP)
    ids: list[int] = []
    days: list[int] = []
    vectors: list[bytes] = []
    blobs: list[bytes] = []
    missing: list[int] = []  # rows without stored counts
    # streamed, and kept as bytes until joined in order: a whole corpus's rows as arrays
    # (and then their ordered copies) would need several times the final matrices' memory
    for paper_id, blob, dim, at, counts in session.execute(stmt.execution_options(yield_per=2000)):
        if counts is None:
            missing.append(len(ids))
        ids.append(int(paper_id))
        days.append(_day(at))
        vectors.append(blob if len(blob) == 4 * dim else from_blob(blob, dim).tobytes())
        blobs.append(counts or b"")
    counted = tuple(ids[i] for i in missing)
    if missing:
        fresh = term_rows.blobs_of(term_rows.counts_of(session, counted))
        for i, blob in zip(missing, fresh, strict=True):
            blobs[i] = blob
    order = np.lexsort((np.asarray(ids, np.int64), np.asarray(days, np.int64)))
    dim = len(vectors[0]) // 4 if vectors else 0
    joined = bytearray().join(vectors[i] for i in order)
    del vectors
    return _Parts(
        np.asarray(ids, np.int64)[order],
        np.asarray(days, np.int64)[order],
        np.frombuffer(joined, dtype="<f4").reshape(len(order), dim),
        term_rows.stack(blobs[i] for i in order),
        counted,
    )


def _day(at: dt.datetime | dt.date | str | None) -> int:
    if isinstance(at, str):  # SQLite's coalesce of two datetimes comes back as text
        at = dt.datetime.fromisoformat(at)
    return at.toordinal() if at is not None else 0


def load(session: Session, model: str | None = None) -> Candidates:
    """Every embedding of ``model`` (default: the current one), with the terms."""
    model = model or current_model(session)
    mark = table_state(session, model)
    if model is None or mark[0] == 0:
        return _empty(model, mark)
    got = _rows(session, model, None)
    idf = term_rows.idf(got.terms)
    weighed = term_rows.weigh(got.terms, idf, copy=False)
    return Candidates(model, got.ids, got.days, got.vectors, mark, weighed, idf, got.counted)


def refreshed(session: Session, old: Candidates) -> Candidates:
    """``old`` caught up with the table: itself when nothing changed, the rows embedded
    since merged in when only that happened, else everything loaded again."""
    model = current_model(session)
    if model != old.model or model is None or len(old) == 0:
        return load(session, model)
    mark = table_state(session, model)
    if mark == old.watermark:
        return old
    got = _rows(session, model, old.watermark[1])
    keep = ~np.isin(old.ids, got.ids)
    every = keep.all()
    ids = np.concatenate([old.ids[keep], got.ids])
    days = np.concatenate([old.days[keep], got.days])
    order = np.lexsort((ids, days))
    in_order = bool((order == np.arange(len(order))).all())  # new papers, published last
    pick = slice(None) if in_order else order
    # the idf of the last full load: new papers' words weigh as the corpus's did
    new_terms = term_rows.weigh(got.terms, old.idf, copy=False)
    terms = sparse.vstack([old.terms if every else old.terms[keep], new_terms], format="csr")
    merged = Candidates(
        model,
        ids[pick],
        days[pick],
        np.vstack([old.vectors if every else old.vectors[keep], got.vectors])[pick],
        mark,
        terms if in_order else sparse.csr_matrix(terms[order]),
        old.idf,
        got.counted,
    )
    # Rows deleted or re-dated (a paper's date changed) are not seen by the merge.
    return merged if len(merged) == mark[0] else load(session, model)


class CandidatePool:
    """This process's snapshot of one database's candidates, refreshed at most every
    ``ann_refresh_seconds`` (the check: two indexed aggregates)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Candidates | None = None
        self._checked = 0.0

    def get(self, db: Database, settings: Settings) -> Candidates:
        with self._lock:
            now = time.monotonic()
            due = now - self._checked >= settings.ann_refresh_seconds
            if self._snapshot is None or due:
                with db.read() as session:
                    old = self._snapshot
                    self._snapshot = load(session) if old is None else refreshed(session, old)
                self._checked = now
                if self._snapshot is not old:
                    _give_back_memory()
                if self._snapshot is not old and self._snapshot.counted:
                    _store_counted(db, self._snapshot.counted)
            return self._snapshot


def _give_back_memory() -> None:
    """Return the loader's freed heap to the system (glibc keeps it otherwise: a
    140,877-paper load left 943 MiB of RSS, 553 MiB after this; RESULTS.md)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _store_counted(db: Database, paper_ids: tuple[int, ...]) -> None:
    """Store the term counts the loader counted (best effort: they are derived data, and
    the next load counts them again)."""
    try:
        term_rows.fill(db, paper_ids=paper_ids)
    except Exception:
        log.exception("recommend: storing papers' term counts failed")


_pools: dict[str, CandidatePool] = {}
_pools_lock = threading.Lock()


def candidates(db: Database, settings: Settings) -> Candidates:
    """The current candidates of ``db`` in this process."""
    key = str(db.engine.url)
    with _pools_lock:
        pool = _pools.setdefault(key, CandidatePool())
    return pool.get(db, settings)


def forget_pools() -> None:
    """Drop every process snapshot (tests that reuse a database URL)."""
    with _pools_lock:
        _pools.clear()
