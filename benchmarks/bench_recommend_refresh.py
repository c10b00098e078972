"""A nightly refresh of every reader's "For you" model, simulated: train and serialise
``--readers`` models (default 100,000) on ``--processes`` processes (default 2, one BLAS
thread each), and report the wall time and peak memory.

    nice -n 10 .venv/bin/python benchmarks/bench_recommend_refresh.py
    nice -n 10 .venv/bin/python benchmarks/bench_recommend_refresh.py --readers 20000  # a subset
    nice -n 10 .venv/bin/python benchmarks/bench_recommend_refresh.py --no-terms  # embeddings only

What it does: the synthetic corpus of ``bench_recommend_train.py`` (``--corpus`` papers,
default 140,877 × 384 float32, 216 MB) and, unless ``--no-terms``, a synthetic term row a
paper (see ``synthetic_terms``: hashed 2^18 columns, ~190 non-zeros a row, CSR ~220 MB) are
built once in the parent and shared with the workers by fork (copy-on-write, as read-only as
the candidate matrices of a worker process); each worker draws the per-process background
sample (``--background``, default 1000) and builds its ``Background`` once, then for each
reader in the chunks it is handed: simulates the reader's signals (seeded by the reader's
number: 5-200 positives, log-uniform, so most readers have few; 0-5 dismissals; 0-40 papers
seen and skipped), fits the embedding model with the shared background and serialises it
(``LinearModel.to_bytes``) into the worker's output file, then fits the term model as
``train.fit_reader`` does (``train.fit_terms``: ``sparse_model.fit_sparse`` at
``TERMS_C``, its ``TERMS_KEPT`` largest weights kept; the reader's term rows against its
negatives and the background less its positives, the same weights) and serialises it
(``SparseLinear.to_bytes``). The term blobs are counted, not written: with every weight kept
(a column its training rows use, ~100,000: ~0.8 MB) 100,000 of them would not fit on the
disk. Reading the signals from the database and
writing ``reader_models`` rows are not part of it (the fingerprint query and one row per
reader; see RESULTS.md).

Reported: wall time from the first chunk handed out to the last model written, readers/s,
each half's fit + serialise time summed over readers (wall and CPU), the workers' whole CPU
time (``RUSAGE_CHILDREN``; divided by the processes: the wall time the same work takes when
the cores are free, an estimate on a shared box), the stored bytes a reader of each model,
and peak RSS (``resource.getrusage``) of the parent (holding the corpus) and of the largest
worker (its RSS counts the corpus pages it touched, shared with the parent, not a copy).
With ``--readers`` under 100,000 the 100,000 figures are a linear extrapolation, and say so.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recommend_train import (
    TOPICS,
    Corpus,
    Reader,
    cpu_model,
    load,
    simulate_reader,
    synthetic_corpus,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from paperfeed.recommend import terms
from paperfeed.recommend.model import Background, fit
from paperfeed.recommend.train import fit_terms

CHUNK = 500
GOAL = 100_000
# Synthetic term rows, calibrated on the real hashed tf-idf (RESULTS.md, "the term model's
# fit": 189.7 non-zeros a paper; 200 positives + 1,000 background use ~98,000 columns).
DRAWS = 222  # word draws a paper (Poisson), before duplicates merge into counts
TOPIC_SHARE = 0.3  # of them from the paper's topic's own words
TOPIC_WORDS = 3000  # columns a topic's own words
ZIPF = (1.0, 50.0)  # exponent s and offset q: the word of rank r drawn ∝ (r + q)^-s
TOPIC_ZIPF = (1.0, 5.0)

_corpus: Corpus | None = None  # set in the parent before the fork
_terms: sparse.csr_matrix | None = None  # likewise (None: --no-terms)
_state: dict[str, object] = {}


@dataclass
class Chunk:
    """One chunk's totals: readers, seconds (wall, CPU) of each half, bytes, peak RSS KiB."""

    readers: int = 0
    fit_wall: float = 0.0
    fit_cpu: float = 0.0
    terms_wall: float = 0.0
    terms_cpu: float = 0.0
    model_bytes: int = 0
    terms_bytes: int = 0
    terms_bytes_max: int = 0
    peak: int = 0


def _zipf_cdf(n: int, s: float, q: float) -> np.ndarray:
    p = (np.arange(1, n + 1) + q) ** -s
    return np.cumsum(p / p.sum())


def _draw(cdf: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


def _count_block(
    topics: np.ndarray, common: np.ndarray, vocab: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of one block of papers: (words a row, sorted columns, counts). ``common``:
    the column of each rank of the common ranking; ``vocab``: each topic's own columns."""
    width = terms.COLUMNS
    own = rng.poisson(DRAWS, len(topics))
    ours = rng.binomial(own, TOPIC_SHARE)
    rows = np.arange(len(topics))
    picks = common[_draw(_zipf_cdf(width, *ZIPF), int((own - ours).sum()), rng)]
    topic_rows = np.repeat(rows, ours)
    topic_picks = vocab[
        topics[topic_rows], _draw(_zipf_cdf(TOPIC_WORDS, *TOPIC_ZIPF), int(ours.sum()), rng)
    ]
    keys = np.concatenate(
        [np.repeat(rows, own - ours) * width + picks, topic_rows * width + topic_picks]
    )
    unique, counts = np.unique(keys, return_counts=True)  # sorted by row, then column
    words = np.bincount(unique // width, minlength=len(topics))
    return words, (unique % width).astype(np.int32), counts.astype(np.float32)


def synthetic_terms(topics: np.ndarray, seed: int = 1) -> sparse.csr_matrix:
    """Term rows like ``candidates.terms``: a paper's word counts over ``terms.COLUMNS``
    hashed columns, weighed by the production code (``terms.idf`` of the whole corpus, then
    ``terms.weigh``: 1 + ln(count) times the idf, L2-normalised; columns in under 2 papers or
    over 10 % of them drop out). Each paper draws ~``DRAWS`` words, Poisson: 70 % from one
    Zipf-like ranking of every column (a random permutation, so frequent words scatter over
    the columns) and 30 % from its topic's own ``TOPIC_WORDS`` columns, also Zipf-like, so
    that papers of a topic, and a reader's positives, share words; a word drawn twice counts
    twice. Calibrated on the real rows (see the constants above)."""
    rng = np.random.default_rng(seed)
    common = rng.permutation(terms.COLUMNS)  # the word of rank r is column common[r]
    vocab = np.stack([rng.choice(terms.COLUMNS, TOPIC_WORDS, replace=False) for _ in range(TOPICS)])
    indptr, columns, counts = [np.zeros(1, np.int64)], [], []
    for start in range(0, len(topics), 10_000):  # in blocks: no temporary of the whole corpus
        words, cols, block_counts = _count_block(topics[start : start + 10_000], common, vocab, rng)
        indptr.append(indptr[-1][-1] + np.cumsum(words))
        columns.append(cols)
        counts.append(block_counts)
    rows = sparse.csr_matrix(
        (np.concatenate(counts), np.concatenate(columns), np.concatenate(indptr)),
        shape=(len(topics), terms.COLUMNS),
    )
    return terms.weigh(rows, terms.idf(rows), copy=False)


def _start_worker(background_size: int, out_dir: str) -> None:
    assert _corpus is not None
    threadpool_limits(1)  # one BLAS thread a process: two processes fill the 2 cores
    rng = np.random.default_rng(12345)  # the same seeded sample in every process
    rows = np.sort(rng.choice(len(_corpus.topics), background_size, replace=False))
    _state["rows"] = rows
    _state["background"] = Background.of(_corpus.vectors[rows])
    _state["out"] = open(Path(out_dir) / f"models-{os.getpid()}.bin", "ab")  # noqa: SIM115


def _fit_terms(reader: Reader, background_rows: np.ndarray) -> bytes:
    """The term model as ``train.fit_reader`` fits it: the positives' rows against the
    negatives' and the background's less the positives, weighted as the embedding model."""
    assert _terms is not None
    bg_rows = np.setdiff1d(background_rows, reader.positives)
    rows = np.concatenate([reader.negatives, bg_rows])
    weights = np.concatenate([reader.weights.astype(np.float32), np.ones(len(bg_rows))])
    words = fit_terms(_terms[reader.positives], _terms[rows], weights)
    return words.to_bytes()


def _train_chunk(first: int) -> Chunk:
    """Train readers first..first+CHUNK-1 (both models, or the embedding model only)."""
    assert _corpus is not None
    corpus, rows = _corpus, _state["rows"]
    background, out = _state["background"], _state["out"]
    assert isinstance(rows, np.ndarray) and isinstance(background, Background)
    done = Chunk(readers=CHUNK)
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
        t1, c1 = time.perf_counter(), time.process_time()
        done.fit_wall += t1 - t0
        done.fit_cpu += c1 - c0
        done.model_bytes += out.write(reader_id.to_bytes(4, "little") + blob)  # type: ignore[attr-defined]
        if _terms is not None:
            size = len(_fit_terms(reader, rows))
            done.terms_wall += time.perf_counter() - t1
            done.terms_cpu += time.process_time() - c1
            done.terms_bytes += size
            done.terms_bytes_max = max(done.terms_bytes_max, size)
    out.flush()  # type: ignore[attr-defined]
    done.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return done


def main() -> None:
    global _corpus, _terms
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=GOAL, help=f"multiple of {CHUNK}")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--corpus", type=int, default=140_877)
    parser.add_argument("--background", type=int, default=1000)
    parser.add_argument(
        "--no-terms", action="store_true", help="the embedding model only (the figure before)"
    )
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; load before: {load()}", flush=True)
    t = time.perf_counter()
    _corpus = synthetic_corpus(args.corpus)
    print(f"corpus {args.corpus} × 384 built in {time.perf_counter() - t:.1f} s", flush=True)
    if not args.no_terms:
        t = time.perf_counter()
        _terms = synthetic_terms(_corpus.topics)
        size = (_terms.data.nbytes + _terms.indices.nbytes + _terms.indptr.nbytes) / 2**20
        print(
            f"term rows built in {time.perf_counter() - t:.1f} s: "
            f"{_terms.nnz / _terms.shape[0]:.1f} non-zeros a row, {size:.0f} MiB",
            flush=True,
        )
    print(f"parent RSS with the corpus built: {_rss_mib():.0f} MiB", flush=True)
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


def _rss_mib() -> float:
    """This process's resident memory now (the peak, ``ru_maxrss``, counts the build's
    temporaries)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def report(args: argparse.Namespace, results: list[Chunk], wall: float, stored: int) -> None:
    n = sum(r.readers for r in results)
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = max(r.peak for r in results) / 1024
    print(f"load after: {load()}")
    halves = "embedding model only" if args.no_terms else "embedding + term models"
    print(f"readers: {n:,} on {args.processes} processes ({halves}); background {args.background}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = children.ru_utime + children.ru_stime
    print(f"wall: {wall:.1f} s ({n / wall:,.0f} readers/s)")
    print(
        f"workers' CPU: {busy:.1f} s (simulation included), {busy / wall:.2f} cores on average;"
        f" on {args.processes} free cores: ≈ {busy / args.processes:.0f} s"
    )
    fit_wall, fit_cpu = sum(r.fit_wall for r in results), sum(r.fit_cpu for r in results)
    print(
        f"embedding model fit + serialise per reader: {fit_wall / n * 1e3:.2f} ms wall,"
        f" {fit_cpu / n * 1e3:.2f} ms CPU"
    )
    print(
        f"embedding models written: {stored / 1e6:.1f} MB"
        f" ({stored / n:.0f} bytes a reader, id included)"
    )
    words = 0 if args.no_terms else report_terms(results, n)
    print(f"peak RSS: parent {parent:.0f} MiB (corpus), largest worker {worker:.0f} MiB")
    if n < GOAL:
        scale = GOAL / n
        print(f"extrapolated to {GOAL:,} readers (linear, not measured): {wall * scale:.0f} s,")
        print(f"  ≈ {busy * scale / args.processes:.0f} s on {args.processes} free cores")
        if words:
            print(f"  term models stored: {words * scale / 1e9:.1f} GB")


def report_terms(results: list[Chunk], n: int) -> int:
    """Print the term half's figures; the bytes of its models."""
    wall, cpu = sum(r.terms_wall for r in results), sum(r.terms_cpu for r in results)
    words = sum(r.terms_bytes for r in results)
    print(
        f"term model rows + fit + serialise per reader: {wall / n * 1e3:.2f} ms wall,"
        f" {cpu / n * 1e3:.2f} ms CPU"
    )
    print(
        f"term models serialised (counted, not written): {words / 1e9:.2f} GB,"
        f" {words / n / 1e3:.0f} kB a reader on average,"
        f" largest {max(r.terms_bytes_max for r in results) / 1e3:.0f} kB"
    )
    return words


if __name__ == "__main__":
    main()
