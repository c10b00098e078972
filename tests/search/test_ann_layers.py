"""The memory-mapped base file with an in-memory delta over it (``paperfeed.search.ann``), on
small random vectors: new, changed and removed embeddings, filters, and the versioned files
with their pointer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paperfeed.search.ann import HnswStore
from paperfeed.search.ann_files import publish_base, read_pointer, remove_bases
from paperfeed.search.ann_layered import LayeredStore

DIM = 32
N = 300


def units(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((n, DIM)).astype(np.float32)
    normed: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
    return normed


@pytest.fixture
def data() -> np.ndarray:
    return units(N, 1)


@pytest.fixture
def mapped(tmp_path: Path, data: np.ndarray) -> LayeredStore:
    graph = HnswStore(DIM)
    # One vector at a time: a batch is added by several threads, which makes the graph (and
    # so which near-ties an approximate search finds) differ from run to run; the exact
    # hits asserted below must not depend on that.
    for key in range(1, N + 1):
        graph.upsert([key], data[key - 1 : key])
    meta = publish_base(graph, tmp_path, "vectors-test", {"model": "test", "dim": DIM})
    base = HnswStore.open(tmp_path / meta["file"], view=True)
    assert base is not None and base.readonly and len(base) == N
    return LayeredStore(base, version=meta["version"], path=tmp_path / meta["file"])


def ids(result: tuple[np.ndarray, np.ndarray]) -> list[int]:
    return [int(k) for k in result[0]]


def test_new_changed_and_removed_embeddings(mapped: LayeredStore, data: np.ndarray) -> None:
    fresh = units(2, 2)
    # a paper newer than the file is found
    mapped.upsert([1000], fresh[:1])
    keys, scores = mapped.search(fresh[0], 3)
    assert int(keys[0]) == 1000 and scores[0] > 0.999
    assert len(mapped) == N + 1 and mapped.changes == 1

    # a changed embedding replaces the file's: found by its new vector, not by the old one
    mapped.upsert([5], fresh[1:])
    assert ids(mapped.search(fresh[1], 1)) == [5]
    old_hits = dict(
        zip(ids(mapped.search(data[4], 10)), mapped.search(data[4], 10)[1], strict=True)
    )
    assert old_hits.get(5, 0.0) < 0.99
    got = mapped.get(5)
    assert got is not None and np.allclose(got, fresh[1])
    assert len(mapped) == N + 1 and mapped.tombstones == {5}

    # removed papers (one in the file, one in the delta) are never returned
    mapped.remove([7, 1000])
    assert 7 not in ids(mapped.search(data[6], 10))
    assert 1000 not in ids(mapped.search(fresh[0], 10))
    assert mapped.get(7) is None and mapped.get(1000) is None
    assert len(mapped) == N - 1
    assert set(mapped.keys().tolist()) == set(range(1, N + 1)) - {7}

    # the same vector read again (the sync overlap) stays in the file: no delta entry
    mapped.upsert([10], data[9:10])
    assert 10 not in mapped.tombstones and mapped.delta.get(10) is None
    assert ids(mapped.search(data[9], 1)) == [10]


def test_results_match_an_exact_scan(mapped: LayeredStore, data: np.ndarray) -> None:
    current = {k: data[k - 1] for k in range(1, N + 1)}
    changed = units(20, 3)
    for i, key in enumerate(range(1, 21)):
        current[key] = changed[i]
    mapped.upsert(list(range(1, 21)), changed)
    extra = units(10, 4)
    mapped.upsert(list(range(2000, 2010)), extra)
    current.update({2000 + i: extra[i] for i in range(10)})
    mapped.remove(list(range(21, 41)))
    for key in range(21, 41):
        del current[key]
    keys = np.array(sorted(current))
    matrix = np.stack([current[int(k)] for k in keys])
    overlap = 0
    for query in units(20, 5):
        want = keys[np.argsort(-(matrix @ query), kind="stable")[:5]].tolist()
        got, scores = mapped.search(query, 5)
        overlap += len(set(got.tolist()) & set(want))
        # every hit is a current paper, scored by its current vector (never a stale one)
        assert np.allclose(scores, [current[int(k)] @ query for k in got], atol=2e-3)
        allowed = [int(k) for k in keys[::3]] + [21, 22]  # removed ones are never returned
        among = np.isin(keys, allowed)
        best = keys[among][np.argsort(-(matrix[among] @ query), kind="stable")[:5]].tolist()
        assert ids(mapped.exact(query, 5, allowed)) == best
        assert set(ids(mapped.search(query, 5, allowed))) <= set(allowed) - {21, 22}
    assert overlap >= 0.9 * 20 * 5  # recall@5 of the approximate search


def test_many_tombstones_near_the_query(mapped: LayeredStore, data: np.ndarray) -> None:
    query = data[0]
    nearest = ids(mapped.base.search(query, 60))
    mapped.remove(nearest[:50])
    keys = ids(mapped.search(query, 5))
    assert len(keys) == 5 and not set(keys) & set(nearest[:50])


def test_the_mapped_file_is_read_only(mapped: LayeredStore, data: np.ndarray) -> None:
    with pytest.raises(Exception, match="immutable"):
        mapped.base.upsert([9999], data[:1])


def test_versioned_files_and_pointer(tmp_path: Path, data: np.ndarray) -> None:
    graph = HnswStore(DIM)
    graph.upsert([1, 2, 3], data[:3])
    first = publish_base(graph, tmp_path, "v-m", {"model": "m", "dim": DIM, "watermark": None})
    second = publish_base(graph, tmp_path, "v-m", {"model": "m", "dim": DIM, "watermark": None})
    assert first["version"] != second["version"] and second["count"] == 3
    assert read_pointer(tmp_path / "v-m.json") == second
    assert sorted(p.name for p in tmp_path.iterdir()) == [second["file"], "v-m.json"]
    # a pointer from before versioned files names the one fixed file
    (tmp_path / "v-m.json").write_text(json.dumps({"model": "m", "dim": DIM}))
    legacy = read_pointer(tmp_path / "v-m.json")
    assert legacy is not None and legacy["file"] == "v-m.usearch"
    remove_bases(tmp_path, "v-m")
    assert list(tmp_path.iterdir()) == []
    assert read_pointer(tmp_path / "v-m.json") is None
