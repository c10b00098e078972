"""The papers a reader can be recommended, in memory: every paper's embedding (the current
embedding model's, from ``paper_embeddings``) in order of first publication, so that a date
range is a slice. 4 bytes × 384 a paper (about 216 MB at 140,877 papers), one copy per
process, shared by every reader (the papers are public; no reader's data is kept here).

The current embedding model is the one that wrote the newest embedding (search writes every
paper again when it changes). The matrix follows ``paper_embeddings`` by a watermark (its
newest ``embedded_at`` and its row count), checked at most every
``PAPERFEED_ANN_REFRESH_SECONDS``: new rows are merged in, anything else reloads it all.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.embeddings import from_blob, table_state
from paperfeed.store.models import Paper, PaperEmbedding

# Rows written this long before the watermark are read again (late commits).
OVERLAP = dt.timedelta(seconds=60)
# The background sample is the same in every process of one corpus.
BACKGROUND_SEED = 18


@dataclass(frozen=True, slots=True)
class Candidates:
    """One immutable snapshot: row i is paper ``ids[i]``, first published on day
    ``days[i]`` (proleptic ordinal), embedded as ``vectors[i]`` (unit length)."""

    model: str | None
    ids: NDArray[np.int64]
    days: NDArray[np.int64]
    vectors: NDArray[np.float32]
    watermark: tuple[int, dt.datetime | None]
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


def _empty(model: str | None, mark: tuple[int, dt.datetime | None]) -> Candidates:
    return Candidates(
        model,
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.int64),
        np.zeros((0, 0), dtype=np.float32),
        mark,
    )


def current_model(session: Session) -> str | None:
    """The embedding model of the newest embedding (None: nothing is embedded)."""
    return session.scalar(
        select(PaperEmbedding.model).order_by(PaperEmbedding.embedded_at.desc()).limit(1)
    )


def _rows(
    session: Session, model: str, since: dt.datetime | None
) -> tuple[list[int], list[int], list[NDArray[np.float32]]]:
    published = func.coalesce(Paper.published_at, Paper.created_at)
    stmt = (
        select(PaperEmbedding.paper_id, PaperEmbedding.vector, PaperEmbedding.dim, published)
        .join(Paper, Paper.id == PaperEmbedding.paper_id)
        .where(PaperEmbedding.model == model)
    )
    if since is not None:
        stmt = stmt.where(PaperEmbedding.embedded_at >= since - OVERLAP)
    ids: list[int] = []
    days: list[int] = []
    vectors: list[NDArray[np.float32]] = []
    for paper_id, blob, dim, at in session.execute(stmt):
        ids.append(int(paper_id))
        days.append(_day(at))
        vectors.append(from_blob(blob, dim))
    return ids, days, vectors


def _day(at: dt.datetime | dt.date | str | None) -> int:
    if isinstance(at, str):  # SQLite's coalesce of two datetimes comes back as text
        at = dt.datetime.fromisoformat(at)
    return at.toordinal() if at is not None else 0


def _ordered(
    model: str,
    ids: NDArray[np.int64],
    days: NDArray[np.int64],
    vectors: NDArray[np.float32],
    mark: tuple[int, dt.datetime | None],
) -> Candidates:
    order = np.lexsort((ids, days))
    return Candidates(model, ids[order], days[order], vectors[order], mark)


def load(session: Session, model: str | None = None) -> Candidates:
    """Every embedding of ``model`` (default: the current one)."""
    model = model or current_model(session)
    mark = table_state(session, model)
    if model is None or mark[0] == 0:
        return _empty(model, mark)
    ids, days, vectors = _rows(session, model, None)
    return _ordered(
        model, np.asarray(ids, np.int64), np.asarray(days, np.int64), np.stack(vectors), mark
    )


def refreshed(session: Session, old: Candidates) -> Candidates:
    """``old`` caught up with the table: itself when nothing changed, the rows embedded
    since merged in when only that happened, else everything loaded again."""
    model = current_model(session)
    if model != old.model or model is None or len(old) == 0:
        return load(session, model)
    mark = table_state(session, model)
    if mark == old.watermark:
        return old
    ids, days, vectors = _rows(session, model, old.watermark[1])
    keep = ~np.isin(old.ids, np.asarray(ids, np.int64))
    merged = _ordered(
        model,
        np.concatenate([old.ids[keep], np.asarray(ids, np.int64)]),
        np.concatenate([old.days[keep], np.asarray(days, np.int64)]),
        np.vstack([old.vectors[keep], *vectors]) if vectors else old.vectors[keep],
        mark,
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
            return self._snapshot


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
