"""The per-reader model: an L2-regularised logistic regression over paper embeddings,
positives against weighted negatives, fitted by L-BFGS with a diagonal preconditioner.

Why this and not an SVM on tf-idf (arxiv-sanity-lite): the embeddings are already stored,
384 numbers a paper, so a reader's model is 385 floats, trains in milliseconds and scores
10,000 candidates with one matrix-vector product. Classes are balanced (each side carries
half the weight), so 5 positives against 2,000 background papers still move the boundary.
benchmarks/bench_recommend_quality.py measures it against the SVM recipe (RESULTS.md).

Why L-BFGS and not Newton (IRLS): a Newton step builds a 385 × 385 Hessian from every row
(n · 385² operations); an L-BFGS step costs two float32 matrix-vector products, and ~15-25
steps reach the same optimum (benchmarks/bench_recommend_train.py, RESULTS.md).

The background negatives are the same sample for every reader of a process: a
``Background`` holds them once, as float32 with their preconditioner share, and
``fit(..., background=...)`` appends them to the reader's own negatives (weight 1 each)
without copying them per reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Matrix = NDArray[np.float32]
Vector = NDArray[np.float64]

# Inverse regularisation strength: larger fits the reader's signals more closely.
DEFAULT_C = 1.0
# Stop when the (preconditioned) Newton decrement falls under TOLERANCE²: the loss (weights
# summing to 1) is then within ~1e-8 of its minimum; float32 products cannot resolve less.
TOLERANCE = 1e-4
MAX_ITERATIONS = 200
MEMORY = 8  # L-BFGS pairs kept
_ARMIJO = 1e-4
_SMALLEST_STEP = 1e-3


@dataclass(frozen=True, slots=True)
class LinearModel:
    weights: NDArray[np.float32]  # (dim,)
    bias: float

    def score(self, vectors: Matrix) -> NDArray[np.float32]:
        """The model's margin for each row of ``vectors`` (higher: more likely liked)."""
        return np.asarray(vectors @ self.weights + np.float32(self.bias), dtype=np.float32)

    def to_bytes(self) -> bytes:
        packed = np.append(self.weights, np.float32(self.bias)).astype("<f4")
        return packed.tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LinearModel:
        packed = np.frombuffer(blob, dtype="<f4")
        return cls(packed[:-1].astype(np.float32), float(packed[-1]))


@dataclass(frozen=True, slots=True)
class Background:
    """Background negatives shared by every reader: float32 rows in C order and the sum of
    each column's squares (their share of the preconditioner), computed once."""

    vectors: Matrix
    squares: Vector

    @classmethod
    def of(cls, vectors: ArrayLike) -> Background:
        rows = _rows(vectors)
        return cls(rows, np.einsum("ij,ij->j", rows, rows, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class _Block:
    rows: Matrix
    weights: Vector  # one a row
    target: float  # 1.0 positives, 0.0 negatives


def fit(
    positives: ArrayLike,
    negatives: ArrayLike,
    negative_weights: ArrayLike | None = None,
    *,
    c: float = DEFAULT_C,
    background: Background | None = None,
    background_skip: ArrayLike = (),
) -> LinearModel:
    """Fit the model. ``negative_weights`` (one a negative row, default 1) lets explicit
    "not interested" count more than background papers; each class sums to half the
    total weight. ``background`` rows join the negatives with weight 1 each (but those at
    the indices ``background_skip``, e.g. the reader's own positives): the same model as
    passing them inside ``negatives``, without converting or copying them per reader."""
    pos = _rows(positives)
    neg = _rows(negatives, dim=pos.shape[1])
    neg_w = _negative_weights(negative_weights, len(neg))
    bg_w = _background_weights(background, background_skip, pos.shape[1])
    total = float(neg_w.sum() + bg_w.sum())
    if len(pos) == 0 or not total > 0:
        raise ValueError("a linear model needs positives and negatives (of positive weight)")
    blocks = [_Block(pos, np.full(len(pos), 0.5 / len(pos)), 1.0)]
    if len(neg):
        blocks.append(_Block(neg, 0.5 * neg_w / total, 0.0))
    squares = sum((_squares(b) for b in blocks), np.zeros(pos.shape[1]))
    if background is not None and bg_w.any():
        bg = _Block(background.vectors, 0.5 * bg_w / total, 0.0)
        blocks.append(bg)
        skipped = bg.rows[bg_w == 0]
        squares += (0.5 / total) * (background.squares - np.einsum("ij,ij->j", skipped, skipped))
    ridge = 1.0 / (c * (len(pos) + len(neg) + np.count_nonzero(bg_w)))
    # Böhning's bound 0.25·XᵀWX + ridge, diagonal only: cheap, and nearly as good as the
    # full matrix (Cholesky) at a fraction of its cost (RESULTS.md).
    diagonal = np.append(0.25 * squares + ridge, 0.25)
    w = _lbfgs(_Objective(blocks, ridge), 1.0 / diagonal)
    return LinearModel(w[:-1].astype(np.float32), float(w[-1]))


def _rows(vectors: ArrayLike, dim: int | None = None) -> Matrix:
    rows = np.ascontiguousarray(vectors, dtype=np.float32)
    if rows.size == 0 and dim is not None:
        return np.empty((0, dim), dtype=np.float32)
    if rows.ndim != 2 or (dim is not None and len(rows) and rows.shape[1] != dim):
        raise ValueError(f"expected a matrix of {dim or 'd'}-dimensional rows, got {rows.shape}")
    if not np.isfinite(rows).all():
        raise ValueError("vectors must be finite")
    return rows


def _negative_weights(weights: ArrayLike | None, n: int) -> Vector:
    if weights is None:
        return np.ones(n)
    out = np.asarray(weights, dtype=np.float64).reshape(-1)
    if len(out) != n or not np.isfinite(out).all() or (out < 0).any():
        raise ValueError("negative_weights: one finite, non-negative weight a negative")
    return out


def _background_weights(background: Background | None, skip: ArrayLike, dim: int) -> Vector:
    if background is None:
        return np.zeros(0)
    if background.vectors.shape[1] != dim:
        raise ValueError("background vectors differ in dimension from the positives")
    weights = np.ones(len(background.vectors))
    rows = np.asarray(skip, dtype=np.int64).reshape(-1)
    if len(rows) and (rows.min() < 0 or rows.max() >= len(weights)):
        raise ValueError("background_skip: row indices of the background")
    weights[rows] = 0.0
    return weights


def _squares(block: _Block) -> Vector:
    squares = np.einsum("i,ij,ij->j", block.weights, block.rows, block.rows, dtype=np.float64)
    return np.asarray(squares, dtype=np.float64)


class _Objective:
    """Weighted logistic loss + ridge/2·‖w‖² (bias unregularised) and its gradient; the
    parameter vector is the weights followed by the bias."""

    def __init__(self, blocks: Sequence[_Block], ridge: float) -> None:
        self.blocks = blocks
        self.ridge = ridge

    def __call__(self, w: Vector) -> tuple[float, Vector]:
        coef = w[:-1].astype(np.float32)
        loss = 0.5 * self.ridge * float(coef @ coef)
        grad = np.append(self.ridge * w[:-1], 0.0)
        for block in self.blocks:
            z = (block.rows @ coef).astype(np.float64) + w[-1]
            # log(1 + e^z), stable; np.logaddexp is 4× slower here
            softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
            loss += float(block.weights @ (softplus - block.target * z))
            residual = block.weights * (np.exp(z - softplus) - block.target)
            grad[:-1] += block.rows.T @ residual.astype(np.float32)
            grad[-1] += residual.sum()
        return loss, grad


def _lbfgs(objective: _Objective, inverse_diagonal: Vector) -> Vector:
    """Minimise from zero by L-BFGS (two-loop recursion, ``inverse_diagonal`` as the initial
    inverse Hessian) with a backtracking Armijo line search."""
    w = np.zeros(len(inverse_diagonal))
    loss, grad = objective(w)
    pairs: list[tuple[Vector, Vector, float]] = []
    for _ in range(MAX_ITERATIONS):
        direction = -_two_loop(grad, pairs, inverse_diagonal)
        decrement = -float(grad @ direction)
        if decrement < TOLERANCE**2:
            break
        step = 1.0
        new_w = w + direction
        new_loss, new_grad = objective(new_w)
        while new_loss > loss - _ARMIJO * step * decrement and step > _SMALLEST_STEP:
            step *= 0.5
            new_w = w + step * direction
            new_loss, new_grad = objective(new_w)
        if new_loss > loss:
            if not pairs:
                break  # float32 products cannot resolve a smaller improvement
            pairs = []  # a poor curvature memory: restart from the preconditioned gradient
            continue
        s, y = new_w - w, new_grad - grad
        sy = float(s @ y)
        if sy > 1e-12:
            pairs = [*pairs[-(MEMORY - 1) :], (s, y, 1.0 / sy)]
        w, loss, grad = new_w, new_loss, new_grad
    return w


def _two_loop(
    grad: Vector, pairs: Sequence[tuple[Vector, Vector, float]], inverse_diagonal: Vector
) -> Vector:
    q = grad.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * float(s @ q)
        q -= alpha * y
        alphas.append(alpha)
    r = inverse_diagonal * q
    for (s, y, rho), alpha in zip(pairs, reversed(alphas), strict=True):
        r += s * (alpha - rho * float(y @ r))
    return r
