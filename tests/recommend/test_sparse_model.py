"""The sparse term model: it learns which words a reader's papers share, keeps weights
only on the columns it saw, survives its byte form, and honours the negatives' weights."""

from __future__ import annotations

from typing import Any

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


def liblinear_primal(pos: sparse.csr_matrix, neg: sparse.csr_matrix, c: float) -> Any:
    """The fit this module used first (scikit-learn's primal liblinear, full width): the
    reference the dual fit must rank like."""
    from sklearn.linear_model import LogisticRegression

    n_pos, n_neg = pos.shape[0], neg.shape[0]
    n = n_pos + n_neg
    lr = LogisticRegression(C=c * n / 2, solver="liblinear")
    weights = n * balanced_weights(n_pos, np.ones(n_neg))
    lr.fit(
        sparse.vstack([pos, neg], format="csr"),
        np.r_[np.ones(n_pos), np.zeros(n_neg)],
        sample_weight=weights,
    )
    return lr


def zipf_rows(
    rng: np.random.Generator, count: int, topic: np.ndarray, share: float
) -> sparse.csr_matrix:
    """Rows like hashed tf-idf: ~190 columns, Zipf-distributed over the width (common words
    shared by many rows), a ``share`` of them from the reader's ``topic`` columns."""
    mats = []
    for _ in range(count):
        k = 190
        mine = rng.choice(topic, size=int(share * k))
        common = (rng.zipf(1.3, size=k - len(mine)) * 7919) % WIDTH
        cols = np.unique(np.r_[mine, common])
        vals = rng.random(len(cols)) + 0.2
        mats.append(
            sparse.csr_matrix((vals / np.linalg.norm(vals), cols, [0, len(cols)]), (1, WIDTH))
        )
    return sparse.vstack(mats, format="csr").astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_ranks_like_the_primal_liblinear_fit(seed: int) -> None:
    """On a realistic reader (200 positives from a few topics, 1,000 background rows) the
    dual fit's candidate ranking agrees with the primal one: rank correlation and top-50."""
    rng = np.random.default_rng(seed)
    topics = [rng.choice(WIDTH, 300, replace=False) for _ in range(30)]
    pos = sparse.vstack([zipf_rows(rng, 50, topics[t], 0.3) for t in range(4)], format="csr")
    neg = sparse.vstack([zipf_rows(rng, 40, topics[t], 0.3) for t in range(25)], format="csr")
    cand = sparse.vstack([zipf_rows(rng, 100, topics[t], 0.15) for t in range(30)], format="csr")
    model, reference = fit_sparse(pos, neg), liblinear_primal(pos, neg, 10.0)
    ours, theirs = model.score(cand), reference.decision_function(cand)
    ranks = np.argsort(np.argsort(ours)), np.argsort(np.argsort(theirs))
    assert np.corrcoef(*ranks)[0, 1] > 0.99
    top = len(set(np.argsort(-ours)[:50]) & set(np.argsort(-theirs)[:50]))
    assert top >= 45


def test_a_tight_tolerance_reaches_liblinears_optimum() -> None:
    """The private binding is called as scikit-learn calls it: with a tight tolerance the
    weights are the public ``LogisticRegression(dual=True)``'s (sign, bias, scale)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    pos, neg = rows(rng, 20, list(range(30))), rows(rng, 80, list(range(400, 430)))
    model = fit_sparse(pos, neg, c=0.5, tol=1e-10, max_iter=1000)
    n = 100
    lr = LogisticRegression(C=0.5 * n / 2, solver="liblinear", dual=True, tol=1e-10, max_iter=1000)
    weights = n * balanced_weights(20, np.ones(80))
    lr.fit(
        sparse.vstack([pos, neg], format="csr"),
        np.r_[np.ones(20), np.zeros(80)],
        sample_weight=weights,
    )
    assert np.allclose(model.weights, lr.coef_[0][model.columns], rtol=1e-3, atol=1e-5)
    assert model.bias == pytest.approx(float(lr.intercept_[0]), rel=1e-3, abs=1e-5)
    assert np.count_nonzero(lr.coef_[0]) <= len(model.columns)


def edge_case(kind: str, rng: np.random.Generator) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    mine, other = list(range(10, 20)), list(range(900, 910))
    if kind == "one positive":
        return rows(rng, 1, mine), rows(rng, 50, other)
    if kind == "all-zero rows":
        zero = sparse.csr_matrix((3, WIDTH), dtype=np.float32)
        return sparse.vstack([rows(rng, 5, mine), zero], format="csr"), sparse.vstack(
            [zero, rows(rng, 40, other)], format="csr"
        )
    if kind == "duplicate rows":
        pos, neg = rows(rng, 1, mine), rows(rng, 2, other)
        return sparse.vstack([pos] * 6, format="csr"), sparse.vstack([neg] * 30, format="csr")
    if kind == "a single column":
        one = sparse.csr_matrix(np.ones((4, 1), np.float32))
        return one, sparse.csr_matrix(
            np.r_[np.zeros((6, 1)), 0.2 * np.ones((6, 1))].astype(np.float32)
        )
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["one positive", "all-zero rows", "duplicate rows", "a single column"]
)
def test_classes_of_input_still_put_a_positive_above_the_negatives(kind: str) -> None:
    rng = np.random.default_rng(5)
    pos, neg = edge_case(kind, rng)
    model = fit_sparse(pos, neg)
    assert np.isfinite(model.weights).all() and np.isfinite(model.bias)
    assert np.array_equal(model.columns, np.union1d(pos.indices, neg.indices))
    assert model.score(pos).max() > np.median(model.score(neg))


def test_rows_without_any_term_give_a_bias_only_model_leaning_to_the_heavier_side() -> None:
    zero = sparse.csr_matrix((4, WIDTH), dtype=np.float32)
    model = fit_sparse(zero, sparse.csr_matrix((9, WIDTH), dtype=np.float32))
    assert len(model.columns) == 0 and len(model.weights) == 0
    assert np.isfinite(model.bias)
    assert np.allclose(model.score(zero), model.bias)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6, 1e12])
def test_huge_or_tiny_weights_only_matter_relative_to_each_other(scale: float) -> None:
    rng = np.random.default_rng(6)
    pos, neg = rows(rng, 10, list(range(20))), rows(rng, 60, list(range(300, 320)))
    weights = rng.random(60) + 0.5
    base, scaled = fit_sparse(pos, neg, weights), fit_sparse(pos, neg, scale * weights)
    assert np.allclose(base.weights, scaled.weights, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "weights", [[1.0, -1.0, 1.0], [1.0, np.nan, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0]]
)
def test_bad_negative_weights_are_refused(weights: list[float]) -> None:
    rng = np.random.default_rng(7)
    with pytest.raises(ValueError):
        fit_sparse(rows(rng, 3, [1, 2, 3, 4, 5]), rows(rng, 3, [7, 8, 9, 10, 11]), weights)


@pytest.mark.parametrize("kept", [1, 7, 300, 10**6])
def test_strongest_keeps_the_largest_weights_in_column_order(kept: int) -> None:
    rng = np.random.default_rng(kept)
    model = fit_sparse(rows(rng, 12, list(range(30))), rows(rng, 80, list(range(500, 530))))
    cut = model.strongest(kept)
    assert len(cut.columns) == min(kept, len(model.columns))
    assert np.all(np.diff(cut.columns) > 0) and cut.bias == model.bias
    assert set(cut.columns) <= set(model.columns)
    dropped = np.setdiff1d(model.columns, cut.columns)
    if len(dropped):
        lost = np.abs(model.weights[np.isin(model.columns, dropped)]).max()
        assert lost <= np.abs(cut.weights).min()
    again = SparseLinear.from_bytes(cut.to_bytes())
    assert np.array_equal(again.columns, cut.columns)
