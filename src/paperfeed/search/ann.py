"""Nearest-neighbour stores over unit vectors: exact (numpy) and approximate (usearch HNSW).

Both answer ``search(vector, k, allowed)`` with ``(keys, cosines)``, best first, and take
upserts and removals by key (the paper id). Choice of library, from
``benchmarks/bench_ann.py`` (see benchmarks/RESULTS.md): usearch HNSW with half-precision
vectors reaches recall@10 >= 0.95 at 1,000,000 x 384 within 1 GB, where hnswlib (float32
only) needs 1.7 GB; usearch int8 loses recall. Below ``ann_exact_threshold`` vectors an exact
scan is fast enough and has perfect recall, so no graph is built.

The ANN file lives next to the database (``<data dir>/index/``); it is derived data, rebuilt
from the stored embeddings whenever it is missing or made for another model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float32]

# With a filter, the ANN is asked for this many times k, then more, before an exact scan.
OVERSAMPLE = 8


def _top(scores: Scores, k: int) -> npt.NDArray[np.intp]:
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


class ExactStore:
    """All vectors in one float32 matrix; search is a matrix-vector product."""

    kind = "exact"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._keys = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._size = 0
        self._pos: dict[int, int] = {}

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        return int(self._matrix.nbytes + self._keys.nbytes)

    def keys(self) -> Keys:
        return self._keys[: self._size].copy()

    def upsert(self, keys: Sequence[int], vectors: Vectors) -> None:
        for key, vector in zip(keys, vectors, strict=True):
            pos = self._pos.get(int(key))
            if pos is None:
                if self._size == len(self._keys):
                    capacity = max(64, 2 * self._size)
                    self._keys = np.resize(self._keys, capacity)
                    matrix = np.zeros((capacity, self.dim), dtype=np.float32)
                    matrix[: self._size] = self._matrix[: self._size]
                    self._matrix = matrix
                pos = self._size
                self._size += 1
                self._pos[int(key)] = pos
                self._keys[pos] = key
            self._matrix[pos] = vector

    def remove(self, keys: Sequence[int]) -> None:
        for key in keys:
            pos = self._pos.pop(int(key), None)
            if pos is None:
                continue
            last = self._size - 1
            if pos != last:
                moved = int(self._keys[last])
                self._keys[pos] = moved
                self._matrix[pos] = self._matrix[last]
                self._pos[moved] = pos
            self._size = last

    def get(self, key: int) -> Vectors | None:
        pos = self._pos.get(int(key))
        return None if pos is None else self._matrix[pos].copy()

    def search(
        self, vector: Vectors, k: int, allowed: Sequence[int] | None = None
    ) -> tuple[Keys, Scores]:
        if allowed is None:
            keys = self._keys[: self._size]
            scores = self._matrix[: self._size] @ vector
        else:
            rows = [p for p in (self._pos.get(int(a)) for a in allowed) if p is not None]
            keys = self._keys[rows]
            scores = self._matrix[rows] @ vector if rows else np.zeros(0, dtype=np.float32)
        best = _top(scores, k)
        return keys[best], scores[best].astype(np.float32)


class HnswStore:
    """usearch HNSW graph over half-precision vectors, cosine metric."""

    kind = "hnsw"

    def __init__(
        self,
        dim: int,
        *,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 128,
        index: Any = None,
    ) -> None:
        from usearch.index import Index

        self.dim = dim
        self._index = index or Index(
            ndim=dim,
            metric="cos",
            dtype="f16",
            connectivity=connectivity,
            expansion_add=expansion_add,
            expansion_search=expansion_search,
        )
        if index is not None:
            self._index.expansion_search = expansion_search  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self._index)

    @property
    def nbytes(self) -> int:
        return int(self._index.memory_usage)

    def keys(self) -> Keys:
        return np.asarray(self._index.keys, dtype=np.int64)

    def upsert(self, keys: Sequence[int], vectors: Vectors) -> None:
        if not len(keys):
            return
        key_array = np.asarray(keys, dtype=np.int64)
        present = np.asarray(self._index.contains(key_array), dtype=bool).reshape(-1)
        if present.any():
            self._index.remove(key_array[present])
        self._index.add(key_array, np.ascontiguousarray(vectors, dtype=np.float32))

    def remove(self, keys: Sequence[int]) -> None:
        if len(keys):
            self._index.remove(np.asarray(keys, dtype=np.int64))

    def get(self, key: int) -> Vectors | None:
        if not self._index.contains(int(key)):
            return None
        found = self._index.get(int(key), dtype="f32")
        return None if found is None else np.asarray(found, dtype=np.float32).reshape(-1)

    def _vectors(self, keys: Keys) -> Vectors:
        found = self._index.get(keys, dtype="f32")
        return np.asarray(found, dtype=np.float32).reshape(len(keys), self.dim)

    def search(
        self, vector: Vectors, k: int, allowed: Sequence[int] | None = None
    ) -> tuple[Keys, Scores]:
        size = len(self)
        if size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is None:
            return self._ann(vector, min(k, size))
        allowed_set = {int(a) for a in allowed}
        count = min(size, k * OVERSAMPLE)
        while True:
            keys, scores = self._ann(vector, count)
            keep = np.fromiter((int(x) in allowed_set for x in keys), dtype=bool, count=len(keys))
            if keep.sum() >= k or count >= size:
                return keys[keep][:k], scores[keep][:k]
            if count >= 4 * k * OVERSAMPLE:
                # A filter this selective is answered exactly over the allowed keys.
                return self.exact(vector, k, sorted(allowed_set))
            count = min(size, count * 4)

    def exact(self, vector: Vectors, k: int, allowed: Sequence[int]) -> tuple[Keys, Scores]:
        keys = np.asarray(allowed, dtype=np.int64)
        if len(keys):
            keys = keys[np.asarray(self._index.contains(keys), dtype=bool).reshape(-1)]
        if not len(keys):
            return keys, np.zeros(0, dtype=np.float32)
        scores = (self._vectors(keys) @ vector).astype(np.float32)
        best = _top(scores, k)
        return keys[best], scores[best]

    def _ann(self, vector: Vectors, count: int) -> tuple[Keys, Scores]:
        matches = self._index.search(np.asarray(vector, dtype=np.float32), count)
        keys = np.asarray(matches.keys, dtype=np.int64)
        scores = (1.0 - np.asarray(matches.distances, dtype=np.float32)).astype(np.float32)
        return keys, scores

    # --- persistence -----------------------------------------------------------------------

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        """Write the graph and its metadata next to each other, each atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._index.save(str(tmp))
        os.replace(tmp, path)
        meta_path = path.with_suffix(".json")
        tmp_meta = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
        tmp_meta.write_text(json.dumps(meta, default=str))
        os.replace(tmp_meta, meta_path)

    @classmethod
    def load(
        cls, path: Path, *, expansion_search: int = 128
    ) -> tuple[HnswStore, dict[str, Any]] | None:
        """The saved graph and its metadata, or None when absent or unreadable."""
        from usearch.index import Index

        meta_path = path.with_suffix(".json")
        if not path.exists() or not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            index = Index.restore(str(path), view=False)
        except Exception:
            return None
        if index is None:
            return None
        store = cls(int(index.ndim), index=index, expansion_search=expansion_search)
        return store, meta
