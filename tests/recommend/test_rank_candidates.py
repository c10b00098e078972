"""The candidates in memory: publication order, date slices, and following the table."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import delete, func, select

from paperfeed.config import Settings
from paperfeed.recommend import candidates, terms
from paperfeed.store.db import Database
from paperfeed.store.models import PaperEmbedding
from paperfeed.store.reader_models import PaperTerms
from tests.factories import add_paper
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import corpus, rank_settings

__all__ = ["corpus", "rank_settings"]


def test_rows_are_in_publication_order_and_ranges_are_slices(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    cands = candidates.candidates(database, rank_settings)
    assert cands.model == rc.model_name(rank_settings)
    assert len(cands) == 2 * rc.PER_TOPIC
    assert [corpus.day_of[int(p)] for p in cands.ids] == sorted(corpus.day_of.values())
    start = rc.FIRST_DAY + dt.timedelta(days=3)
    span = cands.span(start, start + dt.timedelta(days=2))
    assert [corpus.day_of[int(p)] for p in cands.ids[span]] == [
        start + dt.timedelta(days=i) for i in range(3)
    ]
    assert cands.span(dt.date(2030, 1, 1), dt.date(2030, 2, 1)) == slice(len(cands), len(cands))
    assert np.allclose(np.linalg.norm(cands.vectors, axis=1), 1.0, atol=1e-5)
    assert len(cands.background(5)) == 5
    assert list(cands.background(5)) == list(cands.background(5))  # seeded


def test_new_changed_and_removed_embeddings_are_followed(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    first = candidates.candidates(database, rank_settings)
    early = add_paper(database, "2503.49999", published_at=dt.datetime(2025, 2, 1, 8))
    rc.embed(database, rank_settings, early, np.eye(rc.DIM)[3])
    moved = corpus.topics["A"][5]
    rc.embed(database, rank_settings, moved, np.eye(rc.DIM)[4])
    second = candidates.candidates(database, rank_settings)
    assert second is not first
    assert len(second) == len(first) + 1
    assert int(second.ids[0]) == early  # the earliest publication comes first
    assert np.allclose(second.vectors[second.row_of[moved]], np.eye(rc.DIM)[4])
    assert candidates.candidates(database, rank_settings) is second  # nothing changed
    with database.write() as s:
        s.execute(delete(PaperEmbedding).where(PaperEmbedding.paper_id == early))
    third = candidates.candidates(database, rank_settings)
    assert early not in third.row_of and len(third) == len(first)


def test_a_new_embedding_model_replaces_the_old_one(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    candidates.candidates(database, rank_settings)
    other = rank_settings.model_copy(update={"embedding_backend": "torch"})
    rc.embed(database, other, corpus.topics["B"][0], np.eye(rc.DIM)[5])
    cands = candidates.candidates(database, rank_settings)
    assert cands.model == rc.model_name(other)
    assert list(cands.ids) == [corpus.topics["B"][0]]


def test_nothing_embedded_is_no_candidates(database: Database, rank_settings: Settings) -> None:
    cands = candidates.candidates(database, rank_settings)
    assert len(cands) == 0 and cands.model is None
    assert cands.span(dt.date(2025, 1, 1), dt.date(2025, 12, 31)) == slice(0, 0)


def test_a_site_without_embeddings_still_recommends(
    database: Database, rank_settings: Settings
) -> None:
    from paperfeed.recommend.service import recommend

    paper = add_paper(database, "2503.48888")
    add_paper(database, "2503.48889")
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, paper)
    day = dt.date(2025, 3, 3)
    found = recommend(database, rank_settings, reader, start=day, end=day, limit=5)
    assert found.method == "trending"
    assert [r.item.arxiv_id for r in found.items] == ["2503.48889"]


def test_words_are_counted_at_load_when_missing_and_stored(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    first = candidates.candidates(database, rank_settings)
    assert sorted(first.counted) == sorted(int(p) for p in first.ids)  # none were stored
    assert first.terms.shape == (len(first), terms.COLUMNS)
    with database.read() as s:  # and the pool stored them
        assert s.scalar(select(func.count()).select_from(PaperTerms)) == len(first)
