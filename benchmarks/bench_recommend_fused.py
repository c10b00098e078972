"""The fused For you model as production runs it, on a whole site's database (issue 18):

- ``terms.fill``: counting every paper's words into ``paper_terms`` (first run of a site);
- ``candidates.load``: the candidates in memory (embeddings + term rows), their size;
- a reader's whole training (``train.fit_reader``: the embedding model and the term model)
  with 200 positives against the background (``PAPERFEED_RECOMMEND_BACKGROUND``, 1,000);
- ranking ~10,000 candidates (``service._by_vectors``: the fusion, top 50, reasons).

Positives look real: the 200 papers nearest in words to a random paper (so they share
vocabulary, as an author's papers do). On a copy of a site's database (it writes
``paper_terms``), run niced:

    PAPERFEED_DATA_DIR=/tmp/copy nice -n 10 .venv/bin/python benchmarks/bench_recommend_fused.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import time
from collections import defaultdict
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402

from paperfeed.config import get_settings  # noqa: E402
from paperfeed.recommend import candidates, service, terms, train  # noqa: E402
from paperfeed.recommend.blas import one_thread  # noqa: E402
from paperfeed.recommend.gather import Positive, Signals  # noqa: E402
from paperfeed.recommend.model import fit  # noqa: E402
from paperfeed.recommend.sparse_model import fit_sparse  # noqa: E402
from paperfeed.store.db import get_database  # noqa: E402


def clock(times: dict[str, list[tuple[float, float]]], name: str, run: Any, *args: Any) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    out = run(*args)
    times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return out


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def now_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def load(db: Any) -> Any:
    started, cpu, before = time.perf_counter(), time.process_time(), rss_mib()
    with db.read() as session:
        cands = candidates.load(session)
    t = cands.terms
    sizes = (cands.vectors.nbytes, t.data.nbytes + t.indices.nbytes + t.indptr.nbytes)
    print(
        f"candidates.load: {len(cands)} papers in {time.perf_counter() - started:.1f} s "
        f"(CPU {time.process_time() - cpu:.1f} s), {len(cands.counted)} counted at load; "
        f"vectors {sizes[0] / 2**20:.0f} MiB, term rows {sizes[1] / 2**20:.0f} MiB "
        f"({t.nnz / max(1, len(cands)):.1f} non-zeros, {sizes[1] / max(1, len(cands)):.0f} "
        f"bytes a paper), idf {cands.idf.nbytes / 2**20:.0f} MiB; "
        f"peak RSS {before:.0f} → {rss_mib():.0f} MiB, now {now_mib():.0f} MiB",
        flush=True,
    )
    candidates._give_back_memory()  # as the pool does after a load
    print(f"RSS after malloc_trim: {now_mib():.0f} MiB", flush=True)
    return cands


def reader(cands: Any, rng: np.random.Generator, n_pos: int) -> Signals:
    anchor = int(rng.integers(len(cands)))
    near = np.asarray((cands.terms @ cands.terms[anchor].T).todense()).ravel()
    rows = np.argsort(-near)[:n_pos]
    start = dt.datetime(2025, 1, 1)
    return Signals(
        positives=[
            Positive(int(cands.ids[r]), "upvoted", "a title", start + dt.timedelta(hours=i))
            for i, r in enumerate(rows)
        ]
    )


def span_of(cands: Any, size: int) -> tuple[dt.date, dt.date]:
    first = dt.date.fromordinal(int(cands.days[max(0, len(cands) - size)]))
    return first, dt.date.fromordinal(int(cands.days[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--positives", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--no-fill", action="store_true", help="skip terms.fill")
    args = parser.parse_args()
    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    print(f"load average {os.getloadavg()}, {settings.recommend_background} background")
    if not args.no_fill:
        started, cpu = time.perf_counter(), time.process_time()
        counted = terms.fill(db)
        print(
            f"terms.fill: {counted} papers in {time.perf_counter() - started:.1f} s "
            f"(CPU {time.process_time() - cpu:.1f} s)",
            flush=True,
        )
    cands = load(db)
    days = span_of(cands, args.candidates)
    span = cands.span(*days)
    print(f"ranking {span.stop - span.start} candidates ({days[0]} to {days[1]})")
    rng = np.random.default_rng(18)
    times: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for _ in range(args.readers):
        signals = reader(cands, rng, args.positives)
        got = clock(times, "fit_reader (both fits)", train.fit_reader, cands, signals, settings)
        pos = cands.rows([p.paper_id for p in signals.positives])
        bg = np.setdiff1d(cands.background(settings.recommend_background), pos)
        with one_thread():
            clock(times, "  of which fit (embeddings)", fit, cands.vectors[pos], cands.vectors[bg])
            clock(
                times,
                "  of which fit_sparse (terms)",
                fit_sparse,
                cands.terms[pos],
                cands.terms[bg],
            )
        stored = train.StoredModel(
            "linear",
            cands.model,
            got.linear,
            args.positives,
            got.negatives,
            "",
            dt.datetime.now(),
            got.terms,
        )
        older = train.StoredModel(*[getattr(stored, f) for f in stored.__slots__][:-1])
        for name, model in (("fused", stored), ("ours + nearest (no terms)", older)):
            clock(times, f"rank: {name}", service._by_vectors, cands, signals, model, days, 50)
        clock(times, "rank: nearest only", service._by_vectors, cands, signals, None, days, 50)
        assert got.terms is not None
        nonzero = len(got.terms.columns)
    print(f"readers {args.readers}, load {os.getloadavg()} (wall median / p95, CPU median, ms):")
    for name, values in times.items():
        ms = 1000 * np.array(values)
        print(
            f"  {name}: {np.median(ms[:, 0]):.1f} / {np.percentile(ms[:, 0], 95):.1f}, "
            f"CPU {np.median(ms[:, 1]):.1f}"
        )
    print(f"  term model: {nonzero} columns, {len(got.terms.to_bytes())} bytes (last reader)")


if __name__ == "__main__":
    sys.exit(main())
