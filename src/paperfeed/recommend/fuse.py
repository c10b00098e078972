"""The For you score of a ``linear`` reader: three rankings of the same candidates fused by
their z-scores (benchmarks/RESULTS.md, "Sparse features that production can run": late
fusion 1 : 0.5 : 0.5 ranked above arxiv-sanity's tf-idf SVM, the embedding model alone below).

- terms: the reader's term model (``sparse_model``) on the candidates' tf-idf rows;
- ours: the reader's embedding model (``model``);
- nearest: each candidate's best cosine to one of the reader's positives.

Each part is standardised over the candidates being ranked (mean 0, deviation 1), so that
their scales do not matter; a part that is the same for every candidate (deviation 0) or
absent (a model trained before the term model existed) adds nothing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

WEIGHTS = (1.0, 0.5, 0.5)  # terms, ours, nearest


def zscores(scores: ArrayLike) -> NDArray[np.float64]:
    """``scores`` standardised (mean 0, deviation 1); all zero when they do not vary."""
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(x) == 0:
        return x
    mean = float(x.mean())
    std = float(x.std())
    # a constant's float deviation is rounding noise, not a spread to standardise
    if not np.isfinite(std) or std <= 1e-9 * max(1.0, abs(mean)):
        return np.zeros(len(x))
    return (x - mean) / std


def fuse(
    terms: ArrayLike | None,
    ours: ArrayLike | None,
    nearest: ArrayLike | None,
    weights: tuple[float, float, float] = WEIGHTS,
) -> NDArray[np.float64]:
    """The fused score of each candidate: Σ weight · z(part), over the parts given (at least
    one; all of one length)."""
    parts = [(w, p) for w, p in zip(weights, (terms, ours, nearest), strict=True) if p is not None]
    if not parts:
        raise ValueError("fuse: no part to fuse")
    n = {len(np.asarray(p).reshape(-1)) for _, p in parts}
    if len(n) != 1:
        raise ValueError("fuse: the parts differ in length")
    total = np.zeros(n.pop())
    for weight, part in parts:
        total += weight * zscores(part)
    return total
