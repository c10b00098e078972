"""A memory-mapped HNSW base file with an in-memory delta over it: what each worker of a
node searches once the index is past ``ann_exact_threshold``. The base file's pages live in
the page cache, shared by every worker; each worker holds only the delta and tombstones."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from paperfeed.search.ann import ExactStore, HnswStore, Keys, Scores, Vectors, top

# A vector within this of the base file's (half-precision) copy is the same embedding.
SAME_VECTOR_TOLERANCE = 2e-3


def _merge(first: tuple[Keys, Scores], second: tuple[Keys, Scores], k: int) -> tuple[Keys, Scores]:
    """The best ``k`` of two disjoint result lists."""
    if not len(second[0]):
        return first[0][:k], first[1][:k]
    if not len(first[0]):
        return second[0][:k], second[1][:k]
    keys = np.concatenate([first[0], second[0]])
    scores = np.concatenate([first[1], second[1]]).astype(np.float32)
    best = top(scores, k)
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
