"""Training time of one reader's "For you" model (``paperfeed.recommend.model.fit``).

    .venv/bin/python benchmarks/bench_recommend_train.py
    .venv/bin/python benchmarks/bench_recommend_train.py --positives 200 --runs 100 --before

What it does: builds a synthetic corpus of unit vectors (384 dims, clustered in topics like
sentence embeddings; ``--corpus`` papers), draws a fixed background sample of it (the
per-process sample of ``PAPERFEED_RECOMMEND_BACKGROUND``; 1000 and 2000), then for each
number of positives simulates ``--runs`` readers (positives: papers of 1-3 topics; a few
dismissals of weight 3 and papers seen and skipped of weight 1) and times one ``fit`` each,
after one untimed warm-up:

- ``plain``: ``fit(positives, vstack(own negatives, background), weights)``, the ordinary path;
- ``background``: ``fit(positives, own negatives, weights, background=Background)``;
- ``before`` (with ``--before``): the Newton (IRLS) fit model.py used until 2026-12-05,
  copied below, for a before/after on the same box.

Reported: median / p95 / max wall time and median CPU time (ms), and the agreement of the
served model with an exact float64 Newton fit of the same data over 10,000 candidates
(top-50 overlap, worst reader). BLAS threads: ``--threads`` (default 1: the training runs in a
background thread or a worker process on a 2-core box; 0 keeps the library's default).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from paperfeed.recommend.model import Background, LinearModel, fit

DIM = 384
TOPICS = 400


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


@dataclass(frozen=True)
class Corpus:
    vectors: np.ndarray  # (n, DIM) float32, unit rows
    topics: np.ndarray  # (n,) topic of each paper
    members: list[np.ndarray]  # paper rows of each topic


def synthetic_corpus(n: int, seed: int = 0) -> Corpus:
    """Unit vectors around ``TOPICS`` centres plus a direction shared by all papers (sentence
    embeddings of one field are not centred: random pairs have a positive cosine)."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal(DIM, dtype=np.float32)
    centres = rng.standard_normal((TOPICS, DIM), dtype=np.float32) + 0.6 * shared
    topics = rng.integers(0, TOPICS, n)
    vectors = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 10_000):  # in blocks: the peak memory is the corpus's
        stop = min(n, start + 10_000)
        noise = rng.standard_normal((stop - start, DIM), dtype=np.float32)
        block = centres[topics[start:stop]] + np.float32(1.1) * noise
        vectors[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    members = [np.flatnonzero(topics == t) for t in range(TOPICS)]
    return Corpus(vectors, topics, members)


@dataclass(frozen=True)
class Reader:
    positives: np.ndarray  # corpus rows
    negatives: np.ndarray  # corpus rows (dismissed, then seen and skipped)
    weights: np.ndarray  # one a negative


def simulate_reader(corpus: Corpus, n_pos: int, rng: np.random.Generator) -> Reader:
    """Positives from 1-3 topics; 0-5 dismissals (weight 3) from other topics and 0-40 papers
    seen and skipped (weight 1) from anywhere."""
    interests = rng.choice(TOPICS, rng.integers(1, 4), replace=False)
    pool = np.concatenate([corpus.members[t] for t in interests])
    positives = rng.choice(pool, min(n_pos, len(pool)), replace=False)
    dismissed = rng.integers(0, len(corpus.topics), rng.integers(0, 6))
    dismissed = dismissed[~np.isin(corpus.topics[dismissed], interests)]
    skipped = rng.integers(0, len(corpus.topics), rng.integers(0, 41))
    skipped = np.setdiff1d(skipped, positives)
    negatives = np.concatenate([dismissed, skipped])
    weights = np.concatenate([np.full(len(dismissed), 3.0), np.ones(len(skipped))])
    return Reader(positives, negatives, weights)


def fit_plain(corpus: Corpus, reader: Reader, background_rows: np.ndarray) -> LinearModel:
    """What a caller without the shared background does: stack the rows for this reader."""
    rows = np.concatenate([reader.negatives, np.setdiff1d(background_rows, reader.positives)])
    weights = np.concatenate([reader.weights, np.ones(len(rows) - len(reader.negatives))])
    return fit(corpus.vectors[reader.positives], corpus.vectors[rows], weights)


def fit_shared(
    corpus: Corpus, reader: Reader, background_rows: np.ndarray, background: Background
) -> LinearModel:
    skip = np.flatnonzero(np.isin(background_rows, reader.positives))
    return fit(
        corpus.vectors[reader.positives],
        corpus.vectors[reader.negatives],
        reader.weights,
        background=background,
        background_skip=skip,
    )


def irls(pos: np.ndarray, neg: np.ndarray, neg_w: np.ndarray, *, steps: int, c: float = 1.0):
    """model.fit until 2026-12-05 (``steps=8``, float64, stop at a max step < 1e-4), and
    with ``steps=30`` and no early stop the exact reference. Returns (weights, bias)."""
    x = np.vstack([pos, neg]).astype(np.float64)
    x = np.hstack([x, np.ones((len(x), 1))])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    sw = np.concatenate([np.full(len(pos), 0.5 / len(pos)), 0.5 * neg_w / neg_w.sum()])
    ridge = np.full(x.shape[1], 1.0 / (c * len(x)))
    ridge[-1] = 1e-8
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (sw * (p - y)) + ridge * w
        hess = (x.T * (sw * p * (1.0 - p))) @ x + np.diag(ridge)
        step = np.linalg.solve(hess, grad)
        w -= step
        if steps <= 8 and np.abs(step).max() < 1e-4:
            break
    return w[:-1], w[-1]


def fit_before(corpus: Corpus, reader: Reader, background_rows: np.ndarray) -> LinearModel:
    rows = np.concatenate([reader.negatives, np.setdiff1d(background_rows, reader.positives)])
    weights = np.concatenate([reader.weights, np.ones(len(rows) - len(reader.negatives))])
    w, b = irls(corpus.vectors[reader.positives], corpus.vectors[rows], weights, steps=8)
    return LinearModel(w.astype(np.float32), float(b))


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def agreement(corpus: Corpus, reader: Reader, background_rows: np.ndarray, model: LinearModel):
    """Top-50 overlap of the model's ranking of 10,000 papers with the exact Newton fit's."""
    rows = np.concatenate([reader.negatives, np.setdiff1d(background_rows, reader.positives)])
    weights = np.concatenate([reader.weights, np.ones(len(rows) - len(reader.negatives))])
    w, _ = irls(corpus.vectors[reader.positives], corpus.vectors[rows], weights, steps=30)
    candidates = corpus.vectors[:10_000]
    ours, exact = np.argsort(-model.score(candidates))[:50], np.argsort(-(candidates @ w))[:50]
    return len(set(ours.tolist()) & set(exact.tolist()))


def measure(args: argparse.Namespace, corpus: Corpus) -> list[list[str]]:
    rows: list[list[str]] = []
    for size in args.background:
        rng = np.random.default_rng(size)
        background_rows = np.sort(rng.choice(len(corpus.topics), size, replace=False))
        background = Background.of(corpus.vectors[background_rows])
        paths: dict[str, Callable[[Reader], LinearModel]] = {
            "plain": lambda r, b=background_rows: fit_plain(corpus, r, b),
            "background": lambda r, b=background_rows, g=background: fit_shared(corpus, r, b, g),
        }
        if args.before:
            paths["before (IRLS)"] = lambda r, b=background_rows: fit_before(corpus, r, b)
        for n_pos in args.positives:
            readers = [simulate_reader(corpus, n_pos, rng) for _ in range(args.runs + 1)]
            for name, path in paths.items():
                path(readers[0])  # warm-up
                times = [timed(lambda r=r, f=path: f(r)) for r in readers[1:]]
                wall = sorted(t[0] * 1e3 for t in times)
                cpu = statistics.median(t[1] * 1e3 for t in times)
                worst = min(agreement(corpus, r, background_rows, path(r)) for r in readers[:5])
                p95 = wall[min(len(wall) - 1, round(0.95 * (len(wall) - 1)))]
                row = [str(n_pos), str(size), name, f"{statistics.median(wall):.2f}"]
                rows.append([*row, f"{p95:.2f}", f"{wall[-1]:.2f}", f"{cpu:.2f}", f"{worst}/50"])
                print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    parser.add_argument("--positives", type=ints, default=[5, 50, 200, 1000])
    parser.add_argument("--background", type=ints, default=[1000, 2000])
    parser.add_argument("--runs", type=int, default=30, help="readers timed per cell (≥ 30)")
    parser.add_argument("--corpus", type=int, default=140_877, help="synthetic papers")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: default)")
    parser.add_argument("--before", action="store_true", help="also time the old IRLS fit")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; load before: {load()}")
    corpus = synthetic_corpus(args.corpus)
    with threadpool_limits(args.threads or None):
        header = "positives | background | path | median ms | p95 ms | max ms | CPU ms | top-50"
        print(header, flush=True)
        rows = measure(args, corpus)
    print(f"load after: {load()}; BLAS threads: {args.threads or 'default'}")
    print("\n| " + header.replace(" | ", " | ") + " |")
    print("| " + " | ".join(["---:"] * 2 + ["---"] + ["---:"] * 5) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
