"""The fusion of the three rankings, as a pure function and in a reader's list: where the
words decide, the term half puts the paper that shares the reader's rare term first."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import select, update

from paperfeed.config import Settings
from paperfeed.recommend import candidates, terms
from paperfeed.recommend.fuse import WEIGHTS, fuse, zscores
from paperfeed.recommend.service import recommend
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from paperfeed.store.reader_models import PaperTerms, ReaderModel
from tests.factories import add_paper
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import rank_settings

__all__ = ["rank_settings"]

SAMPLES = [
    np.array([3.0, 1.0]),
    np.linspace(-5, 5, 11),
    np.random.default_rng(1).normal(100, 1e-3, 1000),
    np.random.default_rng(2).exponential(1e6, 500).astype(np.float32),
]


@pytest.mark.parametrize("x", SAMPLES)
def test_zscores_have_mean_zero_and_deviation_one(x: np.ndarray) -> None:
    z = zscores(x)
    assert z.mean() == pytest.approx(0, abs=1e-9) and z.std() == pytest.approx(1, rel=1e-6)
    assert (np.argsort(z, kind="stable") == np.argsort(x, kind="stable")).all()


@pytest.mark.parametrize("x", [np.zeros(5), np.full(7, 0.1), np.full(3, 1e8), np.ones(1), []])
def test_a_part_that_does_not_vary_adds_nothing(x: np.ndarray) -> None:
    assert not zscores(x).any() and len(zscores(x)) == len(x)


@pytest.mark.parametrize("seed", range(4))
def test_fuse_is_the_weighted_sum_of_z_scores_and_ignores_scale(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, 40))
    expected = WEIGHTS[0] * zscores(a) + WEIGHTS[1] * zscores(b) + WEIGHTS[2] * zscores(c)
    assert np.allclose(fuse(a, b, c), expected)
    assert np.allclose(fuse(7 * a - 3, 0.01 * b + 5, c), expected)  # affine: same fusion
    assert np.allclose(fuse(None, b, c), expected - WEIGHTS[0] * zscores(a))
    assert np.allclose(fuse(a, np.full(40, 2.0), c), expected - WEIGHTS[1] * zscores(b))
    assert np.allclose(fuse(a, b, c, (0, 0, 1)), zscores(c))


def test_fuse_refuses_nothing_and_mismatched_parts() -> None:
    with pytest.raises(ValueError):
        fuse(None, None, None)
    with pytest.raises(ValueError):
        fuse(np.ones(3), np.ones(4), None)


DAY = dt.date(2025, 3, 1)
FILLER = [f"topic{i}" for i in range(60)]


def paper(db: Database, settings: Settings, i: int, text: str, vec: np.ndarray, day: int) -> int:
    pid = add_paper(
        db,
        f"2503.{50000 + i}",
        title=text,
        abstract="",
        published_at=dt.datetime.combine(DAY + dt.timedelta(days=day), dt.time(12)),
    )
    rc.embed(db, settings, pid, vec / np.linalg.norm(vec))
    return pid


def words_decide_corpus(db: Database, settings: Settings) -> tuple[list[int], int, int]:
    """100 older papers of filler words (vectors anywhere); 6 positives about a rare term
    (vectors on axis 0); among 20 new candidates, ``close``: on axis 0 but in other words,
    and ``worded``: the rare term, at 60° from the positives."""
    rng = np.random.default_rng(5)
    for i in range(100):
        words = " ".join(rng.choice(FILLER, 6))
        paper(db, settings, i, words, rng.normal(size=rc.DIM), 0)
    positives = []
    for i in range(6):
        vec = np.eye(rc.DIM)[0] + rng.normal(0, 0.1, rc.DIM)
        words = f"zorbulator quenching {' '.join(rng.choice(FILLER, 3))}"
        positives.append(paper(db, settings, 100 + i, words, vec, 1))
    for i in range(18):
        vec = rng.normal(size=rc.DIM) + np.eye(rc.DIM)[1]
        paper(db, settings, 110 + i, " ".join(rng.choice(FILLER, 6)), vec, 5)
    close = paper(db, settings, 130, " ".join(rng.choice(FILLER, 6)), np.eye(rc.DIM)[0], 5)
    side = np.eye(rc.DIM)[0] + np.sqrt(3) * np.eye(rc.DIM)[2]
    worded = paper(db, settings, 131, "zorbulator quenching topic1 topic2", side, 5)
    return positives, close, worded


def order(db: Database, settings: Settings, reader: int) -> list[int]:
    day = DAY + dt.timedelta(days=5)
    found = recommend(db, settings, reader, start=day, end=day, limit=50, record=False)
    assert found.method == "linear"
    with db.read() as s:
        id_of = {a: int(p) for a, p in s.execute(select(Paper.arxiv_id, Paper.id))}
    return [id_of[r.item.arxiv_id] for r in found.items]


def test_the_term_half_ranks_the_paper_in_the_readers_words_first(
    database: Database, rank_settings: Settings
) -> None:
    positives, close, worded = words_decide_corpus(database, rank_settings)
    reader = rc.add_user(database, "wordy")
    rc.upvote(database, reader, *positives)
    fused = order(database, rank_settings, reader)
    assert fused.index(worded) < fused.index(close)
    with database.read() as s:  # the loader counted the words and the pool stored them
        assert s.scalar(select(PaperTerms.counts).where(PaperTerms.paper_id == worded))
    # A model without its term half (trained before it existed) ranks by embeddings alone,
    # and there the paper close in meaning comes first.
    with database.write() as s:
        s.execute(update(ReaderModel).values(term_weights=None))
    without = order(database, rank_settings, reader)
    assert without.index(close) < without.index(worded)
    kept = rc.stored(database, reader)
    assert kept is not None and kept.term_weights is None  # still used, not retrained
    candidates.forget_pools()


def test_a_merge_weighs_new_papers_by_the_idf_of_the_last_full_load(
    database: Database, rank_settings: Settings
) -> None:
    words_decide_corpus(database, rank_settings)
    first = candidates.candidates(database, rank_settings)
    assert first.idf.any() and first.terms.nnz > 0
    late = paper(database, rank_settings, 200, "zorbulator topic1 topic2", np.ones(rc.DIM), 9)
    second = candidates.candidates(database, rank_settings)
    assert second.idf is first.idf and second.counted == (late,)
    expected = terms.weigh(terms.count(["zorbulator topic1 topic2 "]), first.idf)
    row = second.term_rows(slice(second.row_of[late], second.row_of[late] + 1))
    assert expected.nnz > 0 and abs(row - expected).max() < 1e-6
    before = second.term_rows(slice(0, len(first)))  # the new paper is the latest
    assert abs(before - first.terms).max() == 0
