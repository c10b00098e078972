"""Similar papers: a paper's nearest neighbours in the semantic index, as feed items.

Used by the paper page ("Similar papers") and ``GET /api/papers/{id}/similar``. A paper not
embedded yet (just ingested, index not updated) is embedded on the fly from its text; with
no embedder at all the answer is empty (never an error).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from paperfeed import papers
from paperfeed.config import Settings
from paperfeed.papers import FeedItem
from paperfeed.papers.ids import unversioned
from paperfeed.store.db import Database
from paperfeed.store.models import Paper

if TYPE_CHECKING:
    from paperfeed.search.vectors import VectorSearch

log = logging.getLogger(__name__)

DEFAULT_K = 10
MAX_K = 50


def paper_id_for(db: Database, arxiv_id: str) -> int | None:
    """``papers.id`` of an arXiv id (a versioned id finds the unversioned paper)."""
    with db.read() as session:
        for candidate in dict.fromkeys((arxiv_id, unversioned(arxiv_id))):
            found = session.scalar(select(Paper.id).where(Paper.arxiv_id == candidate))
            if found is not None:
                return int(found)
    return None


def similar_items(
    db: Database, settings: Settings, arxiv_id: str, k: int = DEFAULT_K
) -> list[FeedItem] | None:
    """The ``k`` papers most similar to ``arxiv_id``, best first, each with its cosine in
    ``score``; None when there is no such paper."""
    paper_id = paper_id_for(db, arxiv_id)
    if paper_id is None:
        return None
    return similar_to_id(db, settings, paper_id, k)


def similar_to_id(db: Database, settings: Settings, paper_id: int, k: int) -> list[FeedItem]:
    # lazy: numpy and the ANN library load at the first similar-papers request, not at start
    from paperfeed.search.vectors import get_vector_search

    k = max(1, min(k, MAX_K))
    vectors = get_vector_search(settings)
    if vectors is None:
        return []
    try:
        hits = vectors.similar(paper_id, k)
        if not hits and vectors.vector_of(paper_id) is None:
            hits = _similar_unembedded(db, vectors, paper_id, k)
    except Exception:  # the page must render even when the index is broken
        log.exception("similar papers failed for paper %s", paper_id)
        return []
    with db.read() as session:
        items = papers.items_by_paper_ids(session, [pid for pid, _ in hits])
    out: list[FeedItem] = []
    for pid, score in hits:
        item = items.get(pid)
        if item is not None:
            item.score = round(score, 4)
            out.append(item)
    return out


def _similar_unembedded(
    db: Database, vectors: VectorSearch, paper_id: int, k: int
) -> list[tuple[int, float]]:
    # lazy: as above (the embedder's module loads numpy)
    from paperfeed.search.embedder import paper_text

    with db.read() as session:
        row = session.execute(
            select(Paper.title, Paper.abstract).where(Paper.id == paper_id)
        ).one_or_none()
    if row is None:
        return []
    vector = vectors.embedder.embed_one(paper_text(row[0] or "", row[1] or ""))
    hits = vectors.nearest(vector, k + 1)
    return [(pid, score) for pid, score in hits if pid != paper_id][:k]
