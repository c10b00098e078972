"""``paper_embeddings`` as its readers (search's vector index, recommend's candidates) see
it: vectors as float32 little-endian blobs, and the table's state for one model."""

from __future__ import annotations

import datetime as dt

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.store.models import PaperEmbedding


def to_blob(vector: ArrayLike) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(data: bytes, dim: int) -> NDArray[np.float32]:
    return np.frombuffer(data, dtype="<f4", count=dim).astype(np.float32)


def table_state(session: Session, model: str | None) -> tuple[int, dt.datetime | None]:
    """How many embeddings ``model`` made, and the newest ``embedded_at``."""
    count, newest = session.execute(
        select(func.count(), func.max(PaperEmbedding.embedded_at)).where(
            PaperEmbedding.model == model
        )
    ).one()
    return int(count), newest
