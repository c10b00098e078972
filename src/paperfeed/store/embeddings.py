"""``paper_embeddings`` as its readers (search's vector index, recommend's candidates) see
it: vectors as float32 little-endian blobs, and the table's state for one model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from paperfeed.store.models import PaperEmbedding


def to_blob(vector: ArrayLike) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(data: bytes, dim: int) -> NDArray[np.float32]:
    return np.frombuffer(data, dtype="<f4", count=dim).astype(np.float32)


def table_state(session: Session, model: str | None) -> tuple[int, dt.datetime | None]:
    """How many embeddings ``model`` made, and the newest ``embedded_at``: one round trip,
    both read from the ``(model, embedded_at)`` index (an index-only count; the newest is one
    index entry), never the vectors."""
    return counted(session, PaperEmbedding.model == model)


def counted(
    session: Session, where: ColumnElement[bool] | None = None
) -> tuple[int, dt.datetime | None]:
    """The number of embeddings (those ``where`` picks; all when None) and the newest
    ``embedded_at`` among them (``state_query``)."""
    row = session.execute(state_query(where)).one()
    return int(row[0] or 0), row[1]


def state_query(where: ColumnElement[bool] | None = None) -> Select[Any]:
    """``counted``'s statement: two scalar subqueries, so that each aggregate can use an
    index (as one ``SELECT count(*), max(...)`` SQLite's max could not; 2026-12-05,
    benchmarks/RESULTS.md)."""
    count = select(func.count()).select_from(PaperEmbedding)
    newest = select(func.max(PaperEmbedding.embedded_at))
    if where is not None:
        count, newest = count.where(where), newest.where(where)
    return select(count.scalar_subquery(), newest.scalar_subquery())
