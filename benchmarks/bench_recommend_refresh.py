"""A nightly refresh of every reader's "For you" model, simulated: train and serialise
``--readers`` models (default 100,000) on ``--processes`` processes (default 2, one BLAS
thread each), and report the wall time and peak memory.

    nice -n 10 .venv/bin/python benchmarks/bench_recommend_refresh.py
    nice -n 10 .venv/bin/python benchmarks/bench_recommend_refresh.py --readers 20000  # a subset

What it does: the synthetic corpus of ``bench_recommend_train.py`` (``--corpus`` papers,
default 140,877 × 384 float32, 216 MB) is built once in the parent and shared with the
workers by fork (copy-on-write, as read-only as the candidate matrix of a worker process);
each worker draws the per-process background sample (``--background``, default 1000) and
builds its ``Background`` once, then for each reader in the chunks it is handed: simulates
the reader's signals (seeded by the reader's number: 5-200 positives, log-uniform, so most
readers have few; 0-5 dismissals; 0-40 papers seen and skipped), fits the model with the
shared background, and serialises it (``LinearModel.to_bytes``) into the worker's output
file. Reading the signals from the database and writing ``reader_models`` rows are not part
of it (the fingerprint query and one row per reader; see RESULTS.md).

Reported: wall time from the first chunk handed out to the last model written, readers/s,
the fit + serialise time summed over readers (wall and CPU), the workers' whole CPU time
(``RUSAGE_CHILDREN``; divided by the processes: the wall time the same work takes when
the cores are free, an estimate on a shared box), and peak RSS
(``resource.getrusage``) of the parent (holding the corpus) and of the largest worker (its
RSS counts the corpus pages it touched, shared with the parent, not a copy). With
``--readers`` under 100,000 the 100,000 figure is a linear extrapolation, and says so.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recommend_train import Corpus, cpu_model, load, simulate_reader, synthetic_corpus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from paperfeed.recommend.model import Background, fit

CHUNK = 500
GOAL = 100_000

_corpus: Corpus | None = None  # set in the parent before the fork
_state: dict[str, object] = {}


def _start_worker(background_size: int, out_dir: str) -> None:
    assert _corpus is not None
    threadpool_limits(1)  # one BLAS thread a process: two processes fill the 2 cores
    rng = np.random.default_rng(12345)  # the same seeded sample in every process
    rows = np.sort(rng.choice(len(_corpus.topics), background_size, replace=False))
    _state["rows"] = rows
    _state["background"] = Background.of(_corpus.vectors[rows])
    _state["out"] = open(Path(out_dir) / f"models-{os.getpid()}.bin", "ab")  # noqa: SIM115


def _train_chunk(first: int) -> tuple[int, float, float, int, int]:
    """Train readers first..first+CHUNK-1: (count, fit wall s, fit CPU s, bytes, peak RSS KiB)."""
    assert _corpus is not None
    corpus, rows = _corpus, _state["rows"]
    background, out = _state["background"], _state["out"]
    assert isinstance(rows, np.ndarray) and isinstance(background, Background)
    wall = cpu = 0.0
    written = 0
    for reader_id in range(first, first + CHUNK):
        rng = np.random.default_rng(reader_id)
        n_pos = round(np.exp(rng.uniform(np.log(5), np.log(200))))
        reader = simulate_reader(corpus, n_pos, rng)
        t0, c0 = time.perf_counter(), time.process_time()
        model = fit(
            corpus.vectors[reader.positives],
            corpus.vectors[reader.negatives],
            reader.weights,
            background=background,
            background_skip=np.flatnonzero(np.isin(rows, reader.positives)),
        )
        blob = model.to_bytes()
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        written += out.write(reader_id.to_bytes(4, "little") + blob)  # type: ignore[attr-defined]
    out.flush()  # type: ignore[attr-defined]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return CHUNK, wall, cpu, written, peak


def main() -> None:
    global _corpus
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=GOAL, help=f"multiple of {CHUNK}")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--corpus", type=int, default=140_877)
    parser.add_argument("--background", type=int, default=1000)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; load before: {load()}", flush=True)
    t = time.perf_counter()
    _corpus = synthetic_corpus(args.corpus)
    print(f"corpus {args.corpus} × 384 built in {time.perf_counter() - t:.1f} s", flush=True)
    chunks = range(0, args.readers - args.readers % CHUNK, CHUNK)
    with tempfile.TemporaryDirectory() as out_dir:
        ctx = mp.get_context("fork")
        start = time.perf_counter()
        with ctx.Pool(args.processes, _start_worker, (args.background, out_dir)) as pool:
            results = list(pool.imap_unordered(_train_chunk, chunks))
            pool.close()
            pool.join()  # reaped, so that RUSAGE_CHILDREN counts the workers' CPU
        wall = time.perf_counter() - start
        stored = sum(p.stat().st_size for p in Path(out_dir).iterdir())
    report(args, results, wall, stored)


def report(
    args: argparse.Namespace,
    results: list[tuple[int, float, float, int, int]],
    wall: float,
    stored: int,
) -> None:
    n = sum(r[0] for r in results)
    fit_wall, fit_cpu = sum(r[1] for r in results), sum(r[2] for r in results)
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = max(r[4] for r in results) / 1024
    print(f"load after: {load()}")
    print(f"readers: {n:,} on {args.processes} processes; background {args.background}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = children.ru_utime + children.ru_stime
    print(f"wall: {wall:.1f} s ({n / wall:,.0f} readers/s)")
    print(
        f"workers' CPU: {busy:.1f} s (simulation included), {busy / wall:.2f} cores on average;"
        f" on {args.processes} free cores: ≈ {busy / args.processes:.0f} s"
    )
    per_wall, per_cpu = fit_wall / n * 1e3, fit_cpu / n * 1e3
    print(f"fit + serialise per reader: {per_wall:.2f} ms wall, {per_cpu:.2f} ms CPU")
    print(f"models written: {stored / 1e6:.1f} MB ({stored / n:.0f} bytes a reader, id included)")
    print(f"peak RSS: parent {parent:.0f} MiB (corpus), largest worker {worker:.0f} MiB")
    if n < GOAL:
        print(f"extrapolated to {GOAL:,} readers (linear, not measured): {wall * GOAL / n:.0f} s")


if __name__ == "__main__":
    main()
