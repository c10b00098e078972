"""With the real embedding model: a reader who upvotes one paper is recommended the paper
that means the same thing in other words first (the search tests' invented topics)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.recommend.service import recommend
from paperfeed.search.embedder import Embedder, paper_text
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import rank_settings
from tests.search.vector_corpus import embedder, partner, seed_topics

__all__ = ["embedder", "rank_settings"]


@pytest.mark.parametrize("liked", ["2504.20001", "2504.20006", "2504.20007"])
def test_the_paper_of_the_same_topic_comes_first(
    database: Database, rank_settings: Settings, embedder: Embedder, liked: str
) -> None:
    ids = seed_topics(database)
    with database.read() as s:
        rows = s.execute(select(Paper.id, Paper.title, Paper.abstract)).all()
    vectors = embedder.embed([paper_text(title, abstract) for _, title, abstract in rows])
    for (pid, _, _), vec in zip(rows, vectors, strict=True):
        rc.embed(database, rank_settings, pid, vec)
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, ids[liked])
    day = dt.date(2025, 3, 3)
    found = recommend(database, rank_settings, reader, start=day, end=day, limit=3)
    assert found.method == "nearest"
    assert found.items[0].item.arxiv_id == partner(liked)
    assert found.items[0].reason.endswith("which you upvoted")
