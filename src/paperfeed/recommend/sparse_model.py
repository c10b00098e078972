"""The per-reader model's second half: an L2-regularised logistic regression over sparse
term rows (hashed tf-idf of title and abstract), positives against weighted negatives.

Why: on the authors-as-readers benchmark the embeddings alone rank below arxiv-sanity's
tf-idf SVM; authors reuse their words (method and dataset names), which term features
catch and a sentence embedding blurs. Fused with the embedding model it ranks above the
SVM recipe (benchmarks/RESULTS.md, "For you: ranking quality").

Classes are balanced as in ``model.fit`` (each side carries half the weight, the negatives'
share split by their weights). This first fit is scikit-learn's liblinear, configured as the
benchmark that chose this model ran it.

The weights are exactly zero on columns no training row uses (L2 only), so a model keeps
(column, weight) pairs for the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

DEFAULT_C = 10.0
Rows: TypeAlias = sparse.csr_matrix


@dataclass(frozen=True, slots=True)
class SparseLinear:
    columns: NDArray[np.int32]  # sorted feature columns with a weight
    weights: NDArray[np.float32]  # one per column
    bias: float

    def score(self, rows: Rows) -> NDArray[np.float32]:
        """The model's margin for each row (higher: more likely liked)."""
        dense = np.zeros(rows.shape[1], dtype=np.float32)
        dense[self.columns] = self.weights
        return np.asarray(rows @ dense, dtype=np.float32) + np.float32(self.bias)

    def to_bytes(self) -> bytes:
        head = np.asarray([len(self.columns)], dtype="<i4").tobytes()
        tail = np.asarray([self.bias], dtype="<f4").tobytes()
        return (
            head
            + self.columns.astype("<i4").tobytes()
            + self.weights.astype("<f4").tobytes()
            + tail
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> SparseLinear:
        count = int(np.frombuffer(blob[:4], dtype="<i4")[0])
        columns = np.frombuffer(blob, dtype="<i4", count=count, offset=4)
        weights = np.frombuffer(blob, dtype="<f4", count=count, offset=4 + 4 * count)
        bias = float(np.frombuffer(blob, dtype="<f4", count=1, offset=4 + 8 * count)[0])
        return cls(columns.astype(np.int32), weights.astype(np.float32), bias)


def balanced_weights(positives: int, negative_weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Row weights summing to 1: half on the positives (equal), half on the negatives (in
    proportion to ``negative_weights``)."""
    pos = np.full(positives, 0.5 / positives)
    return np.concatenate([pos, 0.5 * negative_weights / negative_weights.sum()])


def fit_sparse(
    positives: Rows,
    negatives: Rows,
    negative_weights: ArrayLike | None = None,
    *,
    c: float = DEFAULT_C,
) -> SparseLinear:
    """Learn the reader's term model: ``positives`` against ``negatives`` (CSR rows of
    one width), each negative weighted (default 1)."""
    from sklearn.linear_model import LogisticRegression

    n_pos, n_neg = positives.shape[0], negatives.shape[0]
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a sparse model needs positives and negatives")
    w_neg = np.ones(n_neg) if negative_weights is None else np.asarray(negative_weights, np.float64)
    rows = sparse.vstack([positives, negatives], format="csr")
    labels = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    n = n_pos + n_neg
    # Exactly as the benchmark measured it (RESULTS.md, bench2): row weights summing to n
    # and liblinear's C = c·n/2 (a weak ridge: liblinear's stopping rule does the rest).
    lr = LogisticRegression(C=c * n / 2, solver="liblinear")
    lr.fit(rows, labels, sample_weight=n * balanced_weights(n_pos, w_neg))
    coef = np.asarray(lr.coef_[0], dtype=np.float32)
    used = np.unique(rows.indices).astype(np.int32)
    return SparseLinear(used, coef[used], float(lr.intercept_[0]))
