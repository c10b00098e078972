"""The sparse term model: it learns which words a reader's papers share, keeps weights
only on the columns it saw, survives its byte form, and honours the negatives' weights."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from paperfeed.recommend.sparse_model import SparseLinear, balanced_weights, fit_sparse

WIDTH = 2**18


def rows(
    rng: np.random.Generator, count: int, topic: list[int], noise: int = 40
) -> sparse.csr_matrix:
    """``count`` L2-normalised rows: some of ``topic``'s columns plus random ones."""
    data, indices, indptr = [], [], [0]
    for _ in range(count):
        cols = set(rng.choice(topic, size=min(len(topic), 5), replace=False).tolist())
        cols |= set(rng.integers(0, WIDTH, size=noise).tolist())
        vals = rng.random(len(cols)) + 0.1
        vals /= np.linalg.norm(vals)
        indices += sorted(cols)
        data += vals.tolist()
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(data, np.float32), np.asarray(indices), np.asarray(indptr)), (count, WIDTH)
    )


@pytest.mark.parametrize(("n_pos", "n_neg"), [(1, 5), (5, 200), (60, 1000)])
def test_it_ranks_the_readers_topic_first(n_pos: int, n_neg: int) -> None:
    rng = np.random.default_rng(n_pos)
    mine, other = list(range(100, 120)), list(range(5000, 5020))
    model = fit_sparse(rows(rng, n_pos, mine), rows(rng, n_neg, other))
    liked, unliked = model.score(rows(rng, 30, mine)), model.score(rows(rng, 30, other))
    ordered = (liked[:, None] > unliked[None, :]).mean()  # the AUC
    assert ordered > 0.95


def test_weights_only_on_columns_the_rows_use_and_bytes_round_trip() -> None:
    rng = np.random.default_rng(1)
    pos, neg = rows(rng, 8, list(range(20))), rows(rng, 50, list(range(300, 320)))
    model = fit_sparse(pos, neg)
    used = np.union1d(pos.indices, neg.indices)
    assert np.array_equal(model.columns, used)
    again = SparseLinear.from_bytes(model.to_bytes())
    assert np.array_equal(again.columns, model.columns)
    assert np.array_equal(again.weights, model.weights)
    assert again.bias == pytest.approx(model.bias)
    probe = rows(rng, 10, list(range(20)))
    assert np.allclose(again.score(probe), model.score(probe))


def test_a_heavier_negative_scores_lower() -> None:
    rng = np.random.default_rng(2)
    pos, neg = rows(rng, 10, list(range(20))), rows(rng, 100, list(range(300, 320)))
    # the last negative shares the reader's topic
    near = rows(rng, 1, list(range(20)))
    negs = sparse.vstack([neg, near], format="csr")
    light = fit_sparse(pos, negs, np.r_[np.ones(100), 1.0])
    heavy = fit_sparse(pos, negs, np.r_[np.ones(100), 20.0])
    assert heavy.score(near)[0] < light.score(near)[0]


def test_balanced_weights_split_in_half() -> None:
    w = balanced_weights(3, np.asarray([1.0, 3.0]))
    assert w.sum() == pytest.approx(1.0)
    assert w[:3].sum() == pytest.approx(0.5)
    assert w[4] == pytest.approx(3 * w[3])


@pytest.mark.parametrize(("n_pos", "n_neg"), [(0, 5), (5, 0)])
def test_an_empty_side_is_refused(n_pos: int, n_neg: int) -> None:
    rng = np.random.default_rng(3)
    empty = sparse.csr_matrix((0, WIDTH), dtype=np.float32)
    pos = rows(rng, n_pos, [1, 2, 3, 4, 5]) if n_pos else empty
    neg = rows(rng, n_neg, [7, 8, 9, 10, 11]) if n_neg else empty
    with pytest.raises(ValueError):
        fit_sparse(pos, neg)
