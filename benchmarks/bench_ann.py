"""ANN libraries on synthetic clustered unit vectors (384 dims, like all-MiniLM-L6-v2).

For each library: build time, resident size of the index, p50/p99 query latency (one thread,
one query at a time), recall@10 against an exact numpy scan. Then the chosen one
(usearch f16 through paperfeed.search.ann.HnswStore) is timed for an incremental add of
2,000 vectors and for save/load.

    .venv/bin/python benchmarks/bench_ann.py --n 1000000 --libs usearch-f16
    .venv/bin/python benchmarks/bench_ann.py --n 200000 --libs usearch-f16,usearch-i8,hnswlib,faiss

``--shared DIR`` measures what the serving workers hold: the graph is built once (or reused
from ``DIR``) and saved; then fresh processes open it either loaded into private memory
(``Index.restore(view=False)``, how every worker held it before) or memory-mapped read-only
(``view=True``, through ``paperfeed.search.ann_layered.LayeredStore`` as the workers do
now), run the queries, and report their memory from /proc (VmRSS, RssAnon = private, RssFile
= pages of the mapped file, Pss = their share of the pages); two mapped processes run at once
to show the sharing. The cost of a delta (2,000 and 20,000 vectors newer than the file,
exact scan) on query latency is measured too.

    .venv/bin/python benchmarks/bench_ann.py --n 200000 --shared var/bench-ann-200k

Keeps to ``--threads`` (default 2) threads: the 2 cores are shared.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
K = 10


def clustered(n: int, *, clusters: int, seed: int) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres (spread like sentence embeddings)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        which = rng.integers(0, clusters, m)
        block = centres[which] + 0.9 * rng.standard_normal((m, DIM)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out


def exact_topk(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    for i in range(0, len(queries), 100):
        scores = queries[i : i + 100] @ data.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        rows = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-rows, axis=1)
        out[i : i + 100] = np.take_along_axis(part, order, axis=1)
    return out


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    hits = sum(
        len(set(f[:K].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)
    )
    return hits / (len(truth) * K)


def latencies(search: Any, queries: np.ndarray) -> tuple[list[np.ndarray], float, float]:
    found, times = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(np.asarray(search(q)))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return found, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def bench_usearch(
    data: np.ndarray, queries: np.ndarray, dtype: str, threads: int
) -> dict[str, Any]:
    from usearch.index import Index

    before = rss_mib()
    index = Index(ndim=DIM, metric="cos", dtype=dtype, connectivity=16, expansion_add=128)
    t = time.perf_counter()
    index.add(np.arange(len(data), dtype=np.int64), data, threads=threads)
    build = time.perf_counter() - t
    results = {}
    for ef in (64, 128, 256):
        index.expansion_search = ef
        found, p50, p99 = latencies(lambda q: index.search(q, K, threads=1).keys, queries)
        results[ef] = (found, p50, p99)
    return {
        "build_s": build,
        "mem_mib": index.memory_usage / 2**20,
        "rss_growth_mib": rss_mib() - before,
        "by_ef": results,
        "index": index,
    }


def bench_hnswlib(data: np.ndarray, queries: np.ndarray, threads: int) -> dict[str, Any]:
    import hnswlib

    before = rss_mib()
    index = hnswlib.Index(space="ip", dim=DIM)
    index.init_index(max_elements=len(data), ef_construction=128, M=16)
    index.set_num_threads(threads)
    t = time.perf_counter()
    index.add_items(data, np.arange(len(data)))
    build = time.perf_counter() - t
    index.set_num_threads(1)
    results = {}
    for ef in (64, 128, 256):
        index.set_ef(ef)
        found, p50, p99 = latencies(lambda q: index.knn_query(q, k=K)[0][0], queries)
        results[ef] = (found, p50, p99)
    with tempfile.TemporaryDirectory() as tmp:
        index.save_index(f"{tmp}/h.bin")  # what the graph and vectors take in memory
        mem = os.path.getsize(f"{tmp}/h.bin") / 2**20
    return {
        "build_s": build,
        "mem_mib": mem,
        "rss_growth_mib": rss_mib() - before,
        "by_ef": results,
    }


def bench_faiss(data: np.ndarray, queries: np.ndarray, threads: int) -> dict[str, Any]:
    import faiss

    faiss.omp_set_num_threads(threads)
    before = rss_mib()
    index = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 128
    t = time.perf_counter()
    index.add(data)
    build = time.perf_counter() - t
    faiss.omp_set_num_threads(1)
    results = {}
    for ef in (64, 128, 256):
        index.hnsw.efSearch = ef
        found, p50, p99 = latencies(lambda q: index.search(q[None, :], K)[1][0], queries)
        results[ef] = (found, p50, p99)
    with tempfile.TemporaryDirectory() as tmp:
        faiss.write_index(index, f"{tmp}/f.bin")
        mem = os.path.getsize(f"{tmp}/f.bin") / 2**20
    return {
        "build_s": build,
        "mem_mib": mem,
        "rss_growth_mib": rss_mib() - before,
        "by_ef": results,
    }


def proc_memory(pid: int | str = "self") -> dict[str, float]:
    """VmRSS, RssAnon, RssFile (MiB) from /proc/PID/status and Pss from smaps_rollup."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            name = line.split(":", 1)[0]
            if name in ("VmRSS", "RssAnon", "RssFile"):
                out[name] = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1]) / 1024
    return out


def shared_child(mode: str, folder: str) -> None:
    """One serving process: open the saved graph (``load`` or ``view``), answer the queries,
    print what it measured as JSON, then wait on stdin so the parent can read /proc."""
    from paperfeed.search.ann import HnswStore, _usearch_index
    from paperfeed.search.ann_layered import LayeredStore

    _usearch_index()  # its libraries loaded before the baseline
    base = Path(folder)
    queries = np.load(base / "queries.npy")
    truth = np.load(base / "truth.npy")
    before = proc_memory()
    t = time.perf_counter()
    store = HnswStore.open(base / "graph.usearch", view=(mode == "view"), expansion_search=256)
    assert store is not None
    opened_s = time.perf_counter() - t
    after_open = proc_memory()
    layered = LayeredStore(store) if mode == "view" else None
    search: Any = layered.search if layered is not None else store.search
    found, p50, p99 = latencies(lambda q: search(q, K)[0], queries)
    out: dict[str, Any] = {
        "mode": mode,
        "open_s": opened_s,
        "p50_ms": p50,
        "p99_ms": p99,
        "recall": recall(found, truth),
        "before": before,
        "after_open": after_open,
        "after_queries": proc_memory(),
        "nbytes_mib": (layered or store).nbytes / 2**20,
    }
    print(json.dumps(out), flush=True)
    # The parent reads /proc now; then "delta" asks for the delta's cost, EOF ends it.
    if sys.stdin.readline().strip() != "delta" or layered is None:
        return
    n = len(store)
    deltas: dict[str, Any] = {}
    for size in (2_000, 20_000):
        extra = clustered(size, clusters=max(100, n // 1000), seed=2)
        layered.delta = type(layered.delta)(DIM)
        layered.upsert(list(range(n, n + size)), extra)
        _, d50, d99 = latencies(lambda q: layered.search(q, K)[0], queries)
        deltas[str(size)] = {
            "p50_ms": d50,
            "p99_ms": d99,
            "delta_mib": layered.delta.nbytes / 2**20,
        }
    print(json.dumps(deltas), flush=True)
    sys.stdin.read()


def bench_shared(args: argparse.Namespace) -> None:
    folder = Path(args.shared)
    folder.mkdir(parents=True, exist_ok=True)
    graph = folder / "graph.usearch"
    if not graph.exists():
        from usearch.index import Index

        both = clustered(args.n + args.queries, clusters=max(100, args.n // 1000), seed=1)
        data, queries = both[: args.n], both[args.n :].copy()
        del both
        truth = exact_topk(data, queries, K)
        index = Index(ndim=DIM, metric="cos", dtype="f16", connectivity=16, expansion_add=128)
        t = time.perf_counter()
        index.add(np.arange(len(data), dtype=np.int64), data, threads=args.threads)
        print(f"build {args.n}: {time.perf_counter() - t:.0f} s ({args.threads} threads)")
        print(f"in-memory index (usearch memory_usage): {index.memory_usage / 2**20:.0f} MiB")
        index.save(str(folder / ".graph.tmp"))
        os.replace(folder / ".graph.tmp", graph)
        np.save(folder / "queries.npy", queries)
        np.save(folder / "truth.npy", truth)
        del data, index
        gc.collect()
    print(f"file: {graph.stat().st_size / 2**20:.0f} MiB")

    def start(mode: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, __file__, "--child", mode, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def finish(procs: list[subprocess.Popen[str]], delta: bool = False) -> list[dict[str, Any]]:
        results = []
        for proc in procs:
            assert proc.stdout is not None
            results.append(json.loads(proc.stdout.readline()))
        for proc, result in zip(procs, results, strict=True):
            result["held"] = proc_memory(proc.pid)  # all of them alive, queries done
        for proc, result in zip(procs, results, strict=True):
            assert proc.stdin is not None and proc.stdout is not None
            if delta and result["mode"] == "view":
                proc.stdin.write("delta\n")
                proc.stdin.flush()
                result["deltas"] = json.loads(proc.stdout.readline())
            proc.stdin.close()
            proc.wait()
        return results

    def show(r: dict[str, Any]) -> None:
        held, before = r["held"], r["before"]
        grown = {name: held[name] - before[name] for name in ("VmRSS", "RssAnon", "RssFile")}
        print(
            f"| {r['mode']} | {r['open_s']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['recall']:.3f} | {held['VmRSS']:.0f} (+{grown['VmRSS']:.0f}) | "
            f"{held['RssAnon']:.0f} (+{grown['RssAnon']:.0f}) | "
            f"{held['RssFile']:.0f} (+{grown['RssFile']:.0f}) | {held['Pss']:.0f} |",
            flush=True,
        )

    print(
        "| process | open s | p50 ms | p99 ms | recall@10 | VmRSS MiB (growth) | "
        "RssAnon (growth) | RssFile (growth) | Pss |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    results = [finish([start(mode)], delta=True)[0] for mode in ("load", "view")]
    for result in results:
        show(result)
    print("two mapped processes at once:")
    for result in finish([start("view"), start("view")]):
        show(result)
    print("two loaded processes at once:")
    for result in finish([start("load"), start("load")]):
        show(result)
    for size, d in results[1].get("deltas", {}).items():
        print(
            f"mapped, with a delta of {size}: p50 {d['p50_ms']:.2f} ms, p99 "
            f"{d['p99_ms']:.2f} ms, delta {d['delta_mib']:.0f} MiB"
        )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        shared_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--libs", default="usearch-f16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--update", action="store_true", help="also time HnswStore upserts")
    parser.add_argument("--shared", help="folder: memory of a loaded vs a memory-mapped graph")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    if args.shared:
        bench_shared(args)
        print(f"load average after: {os.getloadavg()}")
        return
    t = time.perf_counter()
    # Queries are fresh points around the same cluster centres as the data.
    both = clustered(args.n + args.queries, clusters=max(100, args.n // 1000), seed=1)
    data, queries = both[: args.n], both[args.n :].copy()
    del both
    print(f"data {args.n} x {DIM} in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    truth = exact_topk(data, queries, K)
    exact_ms = (time.perf_counter() - t) / len(queries) * 1000
    print(f"numpy exact: {exact_ms:.1f} ms per query (batched by 100, {args.threads} threads)")
    one = queries[0]
    t = time.perf_counter()
    for _ in range(5):
        _ = np.argpartition(-(data @ one), K)[:K]
    print(f"numpy exact single query: {(time.perf_counter() - t) / 5 * 1000:.1f} ms")

    print("| library | build s | index MiB | ef | p50 ms | p99 ms | recall@10 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    chosen = None
    for lib in args.libs.split(","):
        gc.collect()
        if lib.startswith("usearch"):
            out = bench_usearch(data, queries, lib.split("-")[1], args.threads)
            if lib == "usearch-f16":
                chosen = out.pop("index")
            else:
                out.pop("index")
        elif lib == "hnswlib":
            out = bench_hnswlib(data, queries, args.threads)
        elif lib == "faiss":
            out = bench_faiss(data, queries, args.threads)
        else:
            raise SystemExit(f"unknown library {lib}")
        for ef, (found, p50, p99) in out["by_ef"].items():
            print(
                f"| {lib} | {out['build_s']:.0f} | {out['mem_mib']:.0f} | {ef} | {p50:.2f} | "
                f"{p99:.2f} | {recall(found, truth):.3f} |",
                flush=True,
            )
        del out
        gc.collect()

    if args.update and chosen is not None:
        from paperfeed.search.ann import HnswStore

        chosen.expansion_search = 128
        store = HnswStore(DIM, index=chosen, expansion_search=128)
        extra = clustered(2000, clusters=max(100, args.n // 1000), seed=2)
        t = time.perf_counter()
        store.upsert(list(range(args.n, args.n + 2000)), extra)
        print(f"incremental add of 2,000 vectors: {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        store.upsert(list(range(0, 2000)), extra)
        print(f"replace 2,000 existing vectors: {time.perf_counter() - t:.2f} s")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.usearch"
            t = time.perf_counter()
            store.save(path, {"model": "bench"})
            print(
                f"save: {time.perf_counter() - t:.2f} s, file {path.stat().st_size / 2**20:.0f} MiB"
            )
            t = time.perf_counter()
            loaded = HnswStore.load(path)
            assert loaded is not None
            print(f"load: {time.perf_counter() - t:.2f} s, {len(loaded[0])} vectors")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
