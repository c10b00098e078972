"""The per-reader model's second half: an L2-regularised logistic regression over sparse
term rows (hashed tf-idf of title and abstract), positives against weighted negatives.

Why: on the authors-as-readers benchmark the embeddings alone rank below arxiv-sanity's
tf-idf SVM; authors reuse their words (method and dataset names), which term features
catch and a sentence embedding blurs. Fused with the embedding model it ranks above the
SVM recipe (benchmarks/RESULTS.md, "For you: ranking quality").

Classes are balanced as in ``model.fit`` (each side carries half the weight, the negatives'
share split by their weights). The objective is the one the benchmark chose (RESULTS.md, bench2:
scikit-learn's liblinear, L2 with the bias regularised as a constant feature, C = c·n/2 with
row weights summing to n); it is solved by liblinear's dual coordinate descent (a reader has
~1,200 rows and ~100,000 used columns: n << d) on the used columns only, stopped at a loose
tolerance and 8 passes: ~9× less CPU than the primal trust-region fit, same ranking
(benchmarks/RESULTS.md, "For you: the term model's fit").

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
# liblinear's dual stopping tolerance (scikit-learn's default 1e-4 ranks the same, slower)
DEFAULT_TOL = 0.1
_DUAL_L2_LOGISTIC = 7  # liblinear's solver L2R_LR_DUAL
# and its cap on passes over the rows: 8 ranks as 100 on the dev readers and bounds the time
DEFAULT_MAX_ITER = 8
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

    def strongest(self, kept: int) -> SparseLinear:
        """The model with only its ``kept`` largest weights (by size; columns stay sorted):
        the rest, mostly the background's words, weigh little and would cost 8 bytes each."""
        if len(self.columns) <= kept:
            return self
        chosen = np.sort(np.argpartition(-np.abs(self.weights), kept - 1)[:kept])
        return SparseLinear(self.columns[chosen], self.weights[chosen], self.bias)

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
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> SparseLinear:
    """Learn the reader's term model: ``positives`` against ``negatives`` (CSR rows of
    one width), each negative weighted (default 1, all finite, >= 0, some > 0). ``tol`` and
    ``max_iter``: liblinear's dual stopping tolerance and its most passes over the rows
    (smaller tol, more passes: closer to the exact optimum, slower)."""
    n_pos, n_neg = positives.shape[0], negatives.shape[0]
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a sparse model needs positives and negatives")
    w_neg = np.ones(n_neg) if negative_weights is None else np.asarray(negative_weights, np.float64)
    if w_neg.shape != (n_neg,) or not (np.isfinite(w_neg).all() and (w_neg >= 0).all()):
        raise ValueError("one finite, non-negative weight a negative")
    if not w_neg.sum() > 0:
        raise ValueError("the negatives need some weight")
    rows = sparse.vstack([positives, negatives], format="csr")
    used, local = _used_columns(rows)
    labels = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    n = n_pos + n_neg
    coef, bias = _liblinear_dual(
        local, labels, n * balanced_weights(n_pos, w_neg), c=c * n / 2, tol=tol, max_iter=max_iter
    )
    return SparseLinear(used, coef[: len(used)].astype(np.float32), bias)


def _used_columns(rows: Rows) -> tuple[NDArray[np.int32], Rows]:
    """The sorted columns ``rows`` use, and ``rows`` over those columns only (liblinear's
    dual solver sweeps every column of its weight vector: ~100,000 used of 262,144).
    Without any non-zero: one explicit zero in a column of its own (liblinear needs one)."""
    if rows.nnz == 0:
        zero = sparse.csr_matrix(
            (
                np.zeros(1, np.float32),
                np.zeros(1, np.int32),
                np.r_[0, np.ones(rows.shape[0], np.int32)],
            ),
            shape=(rows.shape[0], 1),
        )
        return np.zeros(0, np.int32), zero
    mask = np.zeros(rows.shape[1], dtype=bool)
    mask[rows.indices] = True
    used = np.flatnonzero(mask).astype(np.int32)
    position = np.empty(rows.shape[1], dtype=np.int32)
    position[used] = np.arange(len(used), dtype=np.int32)
    data = (
        rows.data if rows.data.dtype in (np.float32, np.float64) else rows.data.astype(np.float64)
    )
    local = sparse.csr_matrix(
        (data, position[rows.indices], rows.indptr.astype(np.int32)),
        shape=(rows.shape[0], len(used)),
    )
    return used, local


def _liblinear_dual(
    rows: Rows,
    labels: NDArray[np.float64],
    weights: NDArray[np.float64],
    *,
    c: float,
    tol: float,
    max_iter: int,
) -> tuple[NDArray[np.float64], float]:
    """``LogisticRegression(C=c, solver="liblinear", dual=True, tol=tol, max_iter=max_iter)
    .fit(rows, labels, sample_weight=weights)`` without its input checks and label encoding
    (~2 ms a fit): scikit-learn's own liblinear binding, called as its ``_fit_liblinear`` calls it
    (tests/recommend/test_sparse_model.py checks they agree)."""
    # lazy: scikit-learn loads only where a term model is fitted (not for scoring or the CLI)
    from sklearn.svm import _liblinear

    _liblinear.set_verbosity_wrap(0)
    raw, _iterations = _liblinear.train_wrap(
        rows, labels, True, _DUAL_L2_LOGISTIC, tol, 1.0, c, np.ones(2), max_iter, 0, 0.1, weights
    )
    return np.asarray(raw[0, :-1], dtype=np.float64), float(raw[0, -1])
