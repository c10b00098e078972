"""The per-reader linear model (recommend/model.py): what it learns, its balancing, its
storage, the shared-background path against the plain one, and the inputs it refuses.
Speed is measured in benchmarks/bench_recommend_train.py, never here."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from paperfeed.recommend.model import Background, LinearModel, fit

DIM = 384
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


def unit(rows: NDArray[np.floating]) -> F32:
    out = np.asarray(rows, dtype=np.float32)
    return np.asarray(out / np.linalg.norm(out, axis=1, keepdims=True), dtype=np.float32)


def around(centre: NDArray[np.floating], n: int, spread: float, seed: int) -> F32:
    """``n`` unit vectors scattered around ``centre`` (like one reader's interests)."""
    rng = np.random.default_rng(seed)
    return unit(centre + spread * rng.standard_normal((n, DIM)) / np.sqrt(DIM))


def corpus(n: int, seed: int) -> F32:
    rng = np.random.default_rng(seed)
    return unit(rng.standard_normal((n, DIM)))


def newton(pos: F32, neg: F32, neg_w: F64, c: float) -> F64:
    """The reference: the same objective minimised by exact Newton steps in float64 (what
    model.py did before L-BFGS), to compare the fitted optimum against."""
    x = np.hstack([np.vstack([pos, neg]).astype(np.float64), np.ones((len(pos) + len(neg), 1))])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    sw = np.concatenate([np.full(len(pos), 0.5 / len(pos)), 0.5 * neg_w / neg_w.sum()])
    ridge = np.full(x.shape[1], 1.0 / (c * len(x)))
    ridge[-1] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        hess = (x.T * (sw * p * (1.0 - p))) @ x + np.diag(ridge + 1e-12)
        step = np.linalg.solve(hess, x.T @ (sw * (p - y)) + ridge * w)
        w -= step
        if np.abs(step).max() < 1e-12:
            break
    return w


def top(scores: NDArray[np.floating], k: int) -> set[int]:
    return {int(i) for i in np.argsort(-scores)[:k]}


def test_separable_readers_are_separated() -> None:
    rng = np.random.default_rng(1)
    centre = rng.standard_normal(DIM)
    pos = around(centre, 20, 1.0, seed=2)
    neg = around(-centre, 300, 1.0, seed=3)
    model = fit(pos, neg, c=10.0)
    assert model.score(pos).min() > model.score(neg).max()
    # and it generalises: new papers near the interest outrank new ones near the rest
    assert (
        model.score(around(centre, 50, 1.0, seed=4)).min()
        > model.score(around(-centre, 50, 1.0, seed=5)).max()
    )


@pytest.mark.parametrize("n_pos", [5, 60])
def test_fit_reaches_the_newton_optimum(n_pos: int) -> None:
    rng = np.random.default_rng(n_pos)
    pos = around(rng.standard_normal(DIM), n_pos, 4.0, seed=6)
    neg = corpus(800, seed=7)
    neg_w = np.ones(len(neg))
    neg_w[:10] = 3.0  # a few "not interested"
    model = fit(pos, neg, neg_w, c=1.0)
    ref = newton(pos, neg, neg_w, c=1.0)
    candidates = corpus(3000, seed=8)
    ours, theirs = model.score(candidates), candidates @ ref[:-1] + ref[-1]
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()
    assert top(ours, 50) == top(theirs, 50)


def test_each_class_weighs_half_whatever_its_size() -> None:
    rng = np.random.default_rng(9)
    pos = around(rng.standard_normal(DIM), 8, 3.0, seed=10)
    neg = corpus(400, seed=11)
    once = fit(pos, neg)
    # the same negatives twice, or all weights scaled, carry the same half of the weight
    # the ridge is 1 / (c · rows): keep it as it was for the doubled rows
    twice = fit(pos, np.vstack([neg, neg]), c=(8 + 400) / (8 + 800))
    scaled = fit(pos, neg, np.full(len(neg), 7.0))
    candidates = corpus(1000, seed=12)
    for other in (twice, scaled):
        assert np.allclose(other.score(candidates), once.score(candidates), atol=2e-3)
    # balanced: 8 positives against 400 negatives still give the positives a positive margin
    assert (once.score(pos) > 0).all()


def test_a_heavier_negative_is_pushed_further_down() -> None:
    rng = np.random.default_rng(13)
    pos = around(rng.standard_normal(DIM), 10, 3.0, seed=14)
    neg = corpus(300, seed=15)
    neg[0] = around(pos.mean(axis=0), 1, 2.0, seed=16)[0]  # dismissed, yet close to the interest
    weights = np.ones(len(neg))
    light = fit(pos, neg, weights).score(neg[:1])[0]
    weights[0] = 3.0
    heavy = fit(pos, neg, weights).score(neg[:1])[0]
    assert heavy < light


def test_bytes_round_trip() -> None:
    rng = np.random.default_rng(17)
    model = fit(around(rng.standard_normal(DIM), 6, 3.0, seed=18), corpus(200, seed=19))
    blob = model.to_bytes()
    assert len(blob) == 4 * (DIM + 1)
    back = LinearModel.from_bytes(blob)
    assert np.array_equal(back.weights, model.weights)
    assert back.bias == pytest.approx(model.bias, rel=1e-6)
    candidates = corpus(100, seed=20)
    assert np.allclose(back.score(candidates), model.score(candidates), atol=1e-6)


def test_shared_background_gives_the_plain_model() -> None:
    rng = np.random.default_rng(21)
    pos = around(rng.standard_normal(DIM), 40, 4.0, seed=22)
    explicit = corpus(12, seed=23)
    explicit_w = np.full(len(explicit), 3.0)
    drawn = corpus(1000, seed=24)
    background = Background.of(drawn)
    plain = fit(pos, np.vstack([explicit, drawn]), np.concatenate([explicit_w, np.ones(1000)]))
    shared = fit(pos, explicit, explicit_w, background=background)
    candidates = corpus(5000, seed=25)
    a, b = plain.score(candidates), shared.score(candidates)
    assert np.allclose(a, b, atol=1e-4 * np.abs(a).max())
    assert top(a, 100) == top(b, 100)
    # a reader with no negatives of their own trains on the background alone
    alone = fit(pos, np.empty((0, DIM), np.float32), background=background)
    assert np.allclose(alone.score(candidates), fit(pos, drawn).score(candidates), atol=1e-3)


def test_background_rows_can_be_left_out_for_one_reader() -> None:
    rng = np.random.default_rng(26)
    drawn = corpus(500, seed=27)
    pos = np.vstack([around(rng.standard_normal(DIM), 9, 3.0, seed=28), drawn[:3]])
    shared = fit(pos, drawn[:0], background=Background.of(drawn), background_skip=[0, 1, 2])
    plain = fit(pos, drawn[3:])
    candidates = corpus(2000, seed=29)
    assert np.allclose(shared.score(candidates), plain.score(candidates), atol=1e-4)


def test_refuses_what_it_cannot_learn_from() -> None:
    neg = corpus(50, seed=30)
    pos = corpus(5, seed=31)
    with pytest.raises(ValueError, match="positives"):
        fit(np.empty((0, DIM), np.float32), neg)
    with pytest.raises(ValueError, match="negatives"):
        fit(pos, np.empty((0, DIM), np.float32))
    with pytest.raises(ValueError):
        fit(pos, corpus(10, seed=32)[:, :100])  # dimensions differ
    with pytest.raises(ValueError):
        fit(pos, neg, np.ones(3))  # a weight for some negatives only
    with pytest.raises(ValueError):
        fit(pos, neg, -np.ones(len(neg)))
    with pytest.raises(ValueError):
        fit(pos, neg, np.zeros(len(neg)))
    bad = pos.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        fit(bad, neg)
    with pytest.raises(ValueError):
        fit(pos, neg, background=Background.of(corpus(10, seed=33)[:, :100]))
    with pytest.raises(ValueError):
        fit(pos, neg, background=Background.of(neg), background_skip=[50])
