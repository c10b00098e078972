"""Nearest-neighbour stores over unit vectors: exact (numpy), approximate (usearch HNSW), and
a memory-mapped HNSW base file with an in-memory delta over it.

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
through the page cache (:class:`LayeredStore`), instead of each worker holding a private copy.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import secrets
import time
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
# A vector within this of the base file's (half-precision) copy is the same embedding.
SAME_VECTOR_TOLERANCE = 2e-3


def _usearch_index() -> Any:
    """usearch's ``Index`` class. ONNX Runtime (the embedder) is imported first when it is
    installed: importing it after usearch's extension crashes the process (a segfault in
    libstdc++'s codecvt while onnxruntime 1.32 initialises, with usearch 2.26 loaded)."""
    # lazy: the order of these two imports matters (above), and both load with the index
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


def _dot(matrix: Vectors, vector: Vectors) -> Scores:
    """``matrix @ vector`` on this thread. A BLAS matrix-vector product wakes the BLAS
    thread pool on every call: on two busy cores that made a 2,000 x 384 scan take 2-8 ms
    instead of 0.15 ms (benchmarks/RESULTS.md); per-request scans stay single-threaded."""
    if not len(matrix):
        return np.zeros(0, dtype=np.float32)
    scores: Scores = np.einsum("ij,j->i", matrix, np.asarray(vector, dtype=np.float32))
    return scores.astype(np.float32, copy=False)


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
        best = _top(scores, k)
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
        best = _top(scores, k)
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
        tmp = _temp_name(path)
        try:
            self._index.save(str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        """Write the graph and its metadata (``path`` with ``.json``) next to each other,
        each atomically."""
        self.save_file(path)
        _write_json(path.with_suffix(".json"), meta)

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


def _merge(first: tuple[Keys, Scores], second: tuple[Keys, Scores], k: int) -> tuple[Keys, Scores]:
    """The best ``k`` of two disjoint result lists."""
    if not len(second[0]):
        return first[0][:k], first[1][:k]
    if not len(first[0]):
        return second[0][:k], second[1][:k]
    keys = np.concatenate([first[0], second[0]])
    scores = np.concatenate([first[1], second[1]]).astype(np.float32)
    best = _top(scores, k)
    return keys[best], scores[best]


class LayeredStore:
    """A read-only base graph plus what changed since it was written.

    - ``base``: the HNSW file, memory-mapped (``view=True``): its pages live in the page
      cache, shared by every worker of the node, not in any one process.
    - ``delta``: an exact in-memory store of the embeddings newer than the file (new papers,
      and new embeddings of changed papers).
    - ``tombstones``: base keys that are hidden, because the paper's embedding was removed or
      replaced by one in the delta.

    A search asks both and merges by score; base and delta never answer for the same key."""

    kind = "hnsw"

    def __init__(self, base: HnswStore, *, version: str = "", path: Path | None = None) -> None:
        self.dim = base.dim
        self.base = base
        self.version = version
        self.path = path
        self.delta = ExactStore(base.dim)
        self.tombstones: set[int] = set()

    def __len__(self) -> int:
        return len(self.base) - len(self.tombstones) + len(self.delta)

    @property
    def changes(self) -> int:
        """Entries held beside the base file (delta vectors and tombstones)."""
        return len(self.delta) + len(self.tombstones)

    @property
    def nbytes(self) -> int:
        """This process's own memory: the delta, the tombstones and usearch's bookkeeping of
        the mapped file (whose pages are shared, and not counted)."""
        return self.base.nbytes + self.delta.nbytes + 64 * len(self.tombstones)

    @property
    def file_bytes(self) -> int:
        try:
            return self.path.stat().st_size if self.path is not None else 0
        except OSError:
            return 0

    def keys(self) -> Keys:
        base = self.base.keys()
        if self.tombstones:
            hidden = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
            base = base[~np.isin(base, hidden)]
        return np.concatenate([base, self.delta.keys()])

    def _live_in_base(self, keys: Keys) -> npt.NDArray[np.bool_]:
        live = self.base.contains(keys)
        if self.tombstones and live.any():
            live &= np.fromiter(
                (int(k) not in self.tombstones for k in keys), dtype=bool, count=len(keys)
            )
        return live

    def upsert(self, keys: Sequence[int], vectors: Vectors) -> None:
        if not len(keys):
            return
        key_array = np.asarray(keys, dtype=np.int64)
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(key_array), self.dim)
        take = np.ones(len(key_array), dtype=bool)
        live = np.flatnonzero(self._live_in_base(key_array))
        if len(live):
            old = self.base.vectors(key_array[live])
            same = np.abs(old - matrix[live]).max(axis=1) <= SAME_VECTOR_TOLERANCE
            # An embedding the file already holds (re-read through the sync overlap) stays
            # there; a new one hides the file's and goes to the delta.
            take[live[same]] = False
            self.tombstones.update(int(k) for k in key_array[live[~same]])
        if take.any():
            self.delta.upsert([int(k) for k in key_array[take]], matrix[take])

    def remove(self, keys: Sequence[int]) -> None:
        if not len(keys):
            return
        key_array = np.asarray(keys, dtype=np.int64)
        self.delta.remove([int(k) for k in key_array])
        live = self._live_in_base(key_array)
        self.tombstones.update(int(k) for k in key_array[live])

    def get(self, key: int) -> Vectors | None:
        found = self.delta.get(key)
        if found is not None or int(key) in self.tombstones:
            return found
        return self.base.get(key)

    def search(
        self, vector: Vectors, k: int, allowed: Sequence[int] | None = None
    ) -> tuple[Keys, Scores]:
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed is None:
            base = self.base.search_excluding(vector, k, self.tombstones)
        else:
            base = self.base.search(vector, k, self._not_hidden(allowed))
        return _merge(base, self.delta.search(vector, k, allowed), k)

    def exact(self, vector: Vectors, k: int, allowed: Sequence[int]) -> tuple[Keys, Scores]:
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        base = self.base.exact(vector, k, self._not_hidden(allowed))
        return _merge(base, self.delta.search(vector, k, allowed), k)

    def _not_hidden(self, allowed: Sequence[int]) -> list[int]:
        if not self.tombstones:
            return list(allowed)
        return [int(a) for a in allowed if int(a) not in self.tombstones]

    def snapshot(self) -> tuple[Keys, Keys, Vectors]:
        """(tombstones, delta keys, delta vectors), copied: what a new base file must apply
        to this one."""
        hidden = np.fromiter(self.tombstones, dtype=np.int64, count=len(self.tombstones))
        keys, matrix = self.delta.items()
        return hidden, keys, matrix


# --- base files: versioned graph files named by a pointer file --------------------------------


# A temporary file is ".<name>.<pid of its writer>.tmp". A writer killed mid-write leaves it
# (a base file's is up to ~1 GB); the next write removes it once its writer is gone, or when
# it has not grown for STALE_TEMP_SECONDS (its pid may have been reused by another process).
STALE_TEMP_SECONDS = 3600.0
_TEMP = re.compile(r"^\..+\.(\d+)\.tmp$")


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete temporary files in ``directory`` whose writer is gone or that went stale;
    the ones removed. A live writer's file (its pid alive, written to lately) is kept."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            stale = now - entry.stat().st_mtime > STALE_TEMP_SECONDS
            if stale or not _alive(int(match.group(1))):
                entry.unlink()
                removed.append(entry)
        except FileNotFoundError:  # its writer renamed or removed it meanwhile
            continue
    return removed


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        tmp.write_text(json.dumps(data, default=str))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_pointer(path: Path) -> dict[str, Any] | None:
    """The pointer file's metadata with ``file`` and ``version`` (a pointer written before
    versioned files names ``<stem>.usearch``), or None when absent or unreadable."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict):
        return None
    if "file" not in meta:  # the layout before versioned files: one fixed name
        meta["file"] = path.with_suffix(".usearch").name
        meta["version"] = f"unversioned-{meta.get('saved_at', '')}"
    return meta


def publish_base(
    store: HnswStore, directory: Path, stem: str, meta: dict[str, Any]
) -> dict[str, Any]:
    """Save ``store`` as a new version of the base file ``<stem>``, name it in the pointer
    ``<stem>.json`` and delete the older versions (workers that mapped one keep reading it
    until they map the new one: an unlinked file lives on while it is mapped). Returns the
    pointer's metadata. The caller keeps other writers out (the update lock)."""
    version = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
    name = f"{stem}.{version}.usearch"
    store.save_file(directory / name)
    pointer = {**meta, "file": name, "version": version, "count": len(store)}
    _write_json(directory / f"{stem}.json", pointer)
    remove_bases(directory, stem, keep=name)
    return pointer


def remove_bases(directory: Path, stem: str, keep: str | None = None) -> None:
    """Delete base files of ``<stem>`` other than ``keep`` (all, and the pointer, when None)."""
    for found in glob.glob(
        os.path.join(glob.escape(str(directory)), f"{glob.escape(stem)}.*usearch")
    ):
        if os.path.basename(found) != keep:
            Path(found).unlink(missing_ok=True)
    if keep is None:
        (directory / f"{stem}.json").unlink(missing_ok=True)
