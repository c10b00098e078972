"""The per-reader model: an L2-regularised logistic regression over paper embeddings,
positives against weighted negatives, fitted by Newton's method (IRLS).

Why this and not an SVM on tf-idf (arxiv-sanity-lite): the embeddings are already stored,
384 numbers a paper, so a reader's model is 385 floats, trains in milliseconds and scores
10,000 candidates with one matrix-vector product. Classes are balanced (each side carries
half the weight), so 5 positives against 2,000 background papers still move the boundary.
benchmarks/bench_recommend_quality.py measures it against the SVM recipe (RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float32]

# Inverse regularisation strength: larger fits the reader's signals more closely.
DEFAULT_C = 1.0
ITERATIONS = 8
TOLERANCE = 1e-4


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


def fit(
    positives: Matrix,
    negatives: Matrix,
    negative_weights: NDArray[np.float32] | None = None,
    *,
    c: float = DEFAULT_C,
) -> LinearModel:
    """Fit the model. ``negative_weights`` (one a negative row, default 1) lets explicit
    "not interested" count more than background papers; each class sums to half the
    total weight."""
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError("a linear model needs positives and negatives")
    x = np.vstack([positives, negatives]).astype(np.float64)
    x = np.hstack([x, np.ones((len(x), 1))])  # the bias as a last, unregularised column
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))])
    neg_w = np.ones(len(negatives)) if negative_weights is None else negative_weights
    sample_w = np.concatenate(
        [np.full(len(positives), 0.5 / len(positives)), 0.5 * neg_w / neg_w.sum()]
    )
    ridge = np.full(x.shape[1], 1.0 / (c * len(x)))
    ridge[-1] = 1e-8
    w = np.zeros(x.shape[1])
    for _ in range(ITERATIONS):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (sample_w * (p - y)) + ridge * w
        hess = (x.T * (sample_w * p * (1.0 - p))) @ x + np.diag(ridge)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < TOLERANCE:
            break
    return LinearModel(w[:-1].astype(np.float32), float(w[-1]))
