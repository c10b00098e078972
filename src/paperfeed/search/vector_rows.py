"""The durable copy of the embeddings (``paper_embeddings``) as the vector index reads it:
its rows a chunk at a time, and a cheap mark of the whole table (the blob format and one
model's state: store/embeddings.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.search.minilm import Vectors
from paperfeed.store.embeddings import counted, from_blob
from paperfeed.store.models import PaperEmbedding

# Papers loaded from the table per query while (re)building the in-memory index.
LOAD_CHUNK = 5_000
# Embeddings this much older than the watermark are read again on every catch-up.
SYNC_OVERLAP = dt.timedelta(seconds=60)


def table_mark(session: Session) -> tuple[int, dt.datetime | None]:
    """How many embeddings the table holds (every model), and the newest ``embedded_at``:
    what changes whenever ``table_state`` does (a change writes ``embedded_at`` = now), read
    from the ``embedded_at`` index instead of a scan of the vectors (benchmarks/RESULTS.md,
    2026-12-05: ~5 ms instead of ~150 ms at 140,877 papers on SQLite; on PostgreSQL as fast
    only once (auto)vacuum has marked the table's pages all-visible, else a scan)."""
    return counted(session)


def stored_chunks(
    session: Session, model: str, since: dt.datetime | None
) -> Iterator[tuple[list[int], Vectors, dt.datetime]]:
    """``model``'s stored embeddings (those made at or after ``since``; all when None) in
    paper-id order, ``LOAD_CHUNK`` at a time: (ids, vectors, newest ``embedded_at``)."""
    last_id = 0
    while True:
        query = (
            select(
                PaperEmbedding.paper_id,
                PaperEmbedding.vector,
                PaperEmbedding.dim,
                PaperEmbedding.embedded_at,
            )
            .where(PaperEmbedding.model == model, PaperEmbedding.paper_id > last_id)
            .order_by(PaperEmbedding.paper_id)
            .limit(LOAD_CHUNK)
        )
        if since is not None:
            # An overlap catches writes that committed after a later one was seen.
            query = query.where(PaperEmbedding.embedded_at >= since - SYNC_OVERLAP)
        rows = session.execute(query).all()
        if not rows:
            return
        ids = [int(r[0]) for r in rows]
        yield ids, np.stack([from_blob(r[1], r[2]) for r in rows]), max(r[3] for r in rows)
        last_id = ids[-1]


def stored_ids(session: Session, model: str) -> Iterator[int]:
    """Every paper id ``model`` embedded."""
    query = select(PaperEmbedding.paper_id).where(PaperEmbedding.model == model)
    return iter(session.scalars(query))


def vectors_of(
    session: Session, model: str, ids: Sequence[int]
) -> tuple[list[int], Vectors] | None:
    """The stored vectors of those of ``ids`` that ``model`` embedded (None when none)."""
    rows = session.execute(
        select(PaperEmbedding.paper_id, PaperEmbedding.vector, PaperEmbedding.dim).where(
            PaperEmbedding.paper_id.in_(list(ids)), PaperEmbedding.model == model
        )
    ).all()
    if not rows:
        return None
    return [int(r[0]) for r in rows], np.stack([from_blob(r[1], r[2]) for r in rows])
