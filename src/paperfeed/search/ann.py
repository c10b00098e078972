"""Nearest-neighbour stores over unit vectors: exact (numpy) and approximate (usearch HNSW).
A memory-mapped HNSW base file with an in-memory delta over it is
:class:`~paperfeed.search.ann_layered.LayeredStore`; the files on disk are handled by
:mod:`paperfeed.search.ann_files`.

All answer ``search(vector, k, allowed)`` with ``(keys, cosines)``, best first, and take
upserts and removals by key (the paper id). Choice of library, from
``benchmarks/bench_ann.py`` (see benchmarks/RESULTS.md): usearch HNSW with half-precision
vectors reaches recall@10 >= 0.95 at 1,000,000 x 384 within 1 GB, where hnswlib (float32
only) needs 1.7 GB; usearch int8 loses recall. Below ``ann_exact_threshold`` vectors an exact
scan is fast enough and has perfect recall, so no graph is built.

The ANN file lives next to the database (``<data dir>/index/``); it is derived data, rebuilt
from the stored embeddings whenever it is missing or made for another model. Each version is
written under its own name (``<stem>.<version>.usearch``) and then named in a small pointer
file (``<stem>.json``: file, version, model, dim, watermark), each step an atomic rename, so a
reader always finds a complete file with its own metadata. Serving workers open it with
``view=True``: the graph is memory-mapped read-only and shared by every process of the node
through the page cache (``LayeredStore``), instead of each worker holding a private copy.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.search.ann_files import remove_stale_temps, temp_name, write_json

Keys = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float32]

# With a filter, the ANN is asked for this many times k, then more, before an exact scan.
OVERSAMPLE = 8


def _usearch_index() -> Any:
    """usearch's ``Index`` class. ONNX Runtime (the embedder) is imported first when it is
    installed: importing it after usearch's extension crashes the process (a segfault in
    libstdc++'s codecvt while onnxruntime 1.32 initialises, with usearch 2.26 loaded)."""
    # lazy: the order of these two imports matters (above), and both load with the index
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    # lazy: usearch loads only where an HNSW index is in use
    from usearch.index import Index

    return Index


def _dot(matrix: Vectors, vector: Vectors) -> Scores:
    """``matrix @ vector`` on this thread. A BLAS matrix-vector product wakes the BLAS
    thread pool on every call, which on two busy cores made a small scan many times slower
    (benchmarks/RESULTS.md, "Approximate nearest neighbours"); per-request scans stay
    single-threaded."""
    if not len(matrix):
        return np.zeros(0, dtype=np.float32)
    scores: Scores = np.einsum("ij,j->i", matrix, np.asarray(vector, dtype=np.float32))
    return scores.astype(np.float32, copy=False)


def top(scores: Scores, k: int) -> npt.NDArray[np.intp]:
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

    def items(self) -> tuple[Keys, Vectors]:
        """Every key and its vector, copied."""
        return self._keys[: self._size].copy(), self._matrix[: self._size].copy()

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
            scores = _dot(self._matrix[: self._size], vector)
        else:
            rows = [p for p in (self._pos.get(int(a)) for a in allowed) if p is not None]
            keys = self._keys[rows]
            scores = _dot(self._matrix[rows], vector)
        best = top(scores, k)
        return keys[best], scores[best].astype(np.float32)


class HnswStore:
    """usearch HNSW graph over half-precision vectors, cosine metric.

    A store opened with ``view=True`` is a read-only memory map of a saved file: searches
    and lookups work, upserts and removals raise."""

    kind = "hnsw"

    def __init__(
        self,
        dim: int,
        *,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 128,
        index: Any = None,
        readonly: bool = False,
    ) -> None:
        Index = _usearch_index()
        self.dim = dim
        self.readonly = readonly
        self._index = index or Index(
            ndim=dim,
            metric="cos",
            dtype="f16",
            connectivity=connectivity,
            expansion_add=expansion_add,
            expansion_search=expansion_search,
        )
        if index is not None:
            self._index.expansion_search = expansion_search

    def __len__(self) -> int:
        return len(self._index)

    @property
    def nbytes(self) -> int:
        """Memory of this process's own (a memory-mapped file's pages are not counted)."""
        return int(self._index.memory_usage)

    def keys(self) -> Keys:
        return np.asarray(self._index.keys, dtype=np.int64)

    def contains(self, keys: Keys) -> npt.NDArray[np.bool_]:
        if not len(keys):
            return np.zeros(0, dtype=bool)
        found = self._index.contains(np.asarray(keys, dtype=np.int64))
        return np.asarray(found, dtype=bool).reshape(-1)

    def upsert(self, keys: Sequence[int], vectors: Vectors) -> None:
        if not len(keys):
            return
        key_array = np.asarray(keys, dtype=np.int64)
        present = self.contains(key_array)
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

    def vectors(self, keys: Keys) -> Vectors:
        """The stored vectors of ``keys`` (every one must be present)."""
        if not len(keys):
            return np.zeros((0, self.dim), dtype=np.float32)
        found = self._index.get(np.asarray(keys, dtype=np.int64), dtype="f32")
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
        if not allowed_set:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
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

    def search_excluding(self, vector: Vectors, k: int, excluded: set[int]) -> tuple[Keys, Scores]:
        """The ``k`` nearest keys that are not in ``excluded`` (asks the graph for more
        until enough are left)."""
        size = len(self)
        if size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if not excluded:
            return self._ann(vector, min(k, size))
        count = min(size, k + min(len(excluded), k * OVERSAMPLE))
        while True:
            keys, scores = self._ann(vector, count)
            keep = np.fromiter((int(x) not in excluded for x in keys), dtype=bool, count=len(keys))
            if keep.sum() >= k or count >= size:
                return keys[keep][:k], scores[keep][:k]
            count = min(size, count * 4)

    def exact(self, vector: Vectors, k: int, allowed: Sequence[int]) -> tuple[Keys, Scores]:
        keys = np.asarray(allowed, dtype=np.int64)
        if len(keys):
            keys = keys[self.contains(keys)]
        if not len(keys):
            return keys, np.zeros(0, dtype=np.float32)
        scores = _dot(self.vectors(keys), vector)
        best = top(scores, k)
        return keys[best], scores[best]

    def _ann(self, vector: Vectors, count: int) -> tuple[Keys, Scores]:
        matches = self._index.search(np.asarray(vector, dtype=np.float32), count)
        keys = np.asarray(matches.keys, dtype=np.int64)
        scores = (1.0 - np.asarray(matches.distances, dtype=np.float32)).astype(np.float32)
        return keys, scores

    # --- persistence -----------------------------------------------------------------------

    def save_file(self, path: Path) -> None:
        """Write the graph to ``path`` atomically (a temporary name, then a rename); first
        delete what crashed writers left (:func:`remove_stale_temps`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path.parent)
        tmp = temp_name(path)
        try:
            self._index.save(str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        """Write the graph and its metadata (``path`` with ``.json``) next to each other,
        each atomically."""
        self.save_file(path)
        write_json(path.with_suffix(".json"), meta)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        view: bool = False,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 128,
    ) -> HnswStore | None:
        """The graph saved at ``path`` (memory-mapped read-only with ``view``), or None when
        absent or unreadable."""
        Index = _usearch_index()
        try:
            index = Index.restore(
                str(path), view=view, connectivity=connectivity, expansion_add=expansion_add
            )
        except Exception:
            return None
        if index is None:
            return None
        return cls(int(index.ndim), index=index, expansion_search=expansion_search, readonly=view)

    @classmethod
    def load(
        cls, path: Path, *, expansion_search: int = 128, view: bool = False
    ) -> tuple[HnswStore, dict[str, Any]] | None:
        """The graph saved by :meth:`save` and its metadata, or None when absent or
        unreadable."""
        meta_path = path.with_suffix(".json")
        if not path.exists() or not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None
        store = cls.open(path, view=view, expansion_search=expansion_search)
        return None if store is None else (store, meta)
