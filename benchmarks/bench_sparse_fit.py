"""The term model's fit (``recommend.sparse_model.fit_sparse``): its time, and whether it
ranks like the primal liblinear fit it replaced, on real arXiv papers (issue 18).

    nice -n 10 .venv/bin/python benchmarks/bench_sparse_fit.py [--readers 200] [--runs 30]
        [--grid] [--skip-quality] [--skip-timing]

Data as ``bench_recommend_quality.py`` reads it (its functions, imported): the corpus of
``shared/data``, its hashed 2^18 tf-idf of title + abstract (cached in ``benchmarks/.cache``
as ``sparsefit-hash18-tfidf-N.npz``; the first run takes a few minutes), and **its dev
cut-off only** (2025-05-05; the test cut-offs stay unseen):

- quality: each of ``--readers`` authors-as-readers: their positives against the first 1,000
  of the seeded background (their own removed), the term model alone ranking the window's
  candidates: nDCG@10 / recall@50 / MRR of the reference (scikit-learn's primal liblinear,
  full width, as ``fit_sparse`` ran until 2026-12-05) and of ``fit_sparse``, and how the two
  rankings agree (top-50 overlap: mean and worst reader; Spearman correlation of the scores).
  ``--grid``: also the dual fit at other C, tolerances and caps on its passes.
- timing: ``--runs`` simulated readers, 200 positives drawn from the papers before the
  cut-off (not in the background) against the 1,000 background: wall median / p95 and CPU
  median of each fit, one BLAS thread, after one untimed warm-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "src")]
import bench_recommend_quality as q  # noqa: E402
from bench_recommend_train import cpu_model, load  # noqa: E402

from paperfeed.recommend.sparse_model import (  # noqa: E402
    DEFAULT_C,
    DEFAULT_MAX_ITER,
    DEFAULT_TOL,
    balanced_weights,
    fit_sparse,
)

BACKGROUND = 1000
Fit = Callable[[Any, Any], tuple[Any, float]]  # (positives, negatives) -> (weights, bias)


def features(corpus: q.Corpus) -> Any:
    """The quality bench's hashed tf-idf, kept whole under a name of this bench's own."""
    saved = q.CACHE / f"sparsefit-hash18-tfidf-{len(corpus.ids)}.npz"
    if saved.exists():
        return scipy.sparse.load_npz(saved).tocsr()
    x = q.hashed_tfidf(corpus)
    q.CACHE.mkdir(parents=True, exist_ok=True)
    scipy.sparse.save_npz(saved.with_suffix(".tmp.npz"), x)
    os.replace(saved.with_suffix(".tmp.npz"), saved)
    return x


def primal(pos: Any, neg: Any, c: float = DEFAULT_C) -> tuple[Any, float]:
    """The reference: ``fit_sparse`` until 2026-12-05 (primal liblinear, every column)."""
    from sklearn.linear_model import LogisticRegression

    n_pos, n_neg = pos.shape[0], neg.shape[0]
    n = n_pos + n_neg
    lr = LogisticRegression(C=c * n / 2, solver="liblinear")
    labels = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    lr.fit(
        scipy.sparse.vstack([pos, neg], format="csr"),
        labels,
        sample_weight=n * balanced_weights(n_pos, np.ones(n_neg)),
    )
    return lr.coef_[0], float(lr.intercept_[0])


def dual(c: float = DEFAULT_C, tol: float = DEFAULT_TOL, passes: int = DEFAULT_MAX_ITER) -> Fit:
    def run(pos: Any, neg: Any) -> tuple[Any, float]:
        model = fit_sparse(pos, neg, c=c, tol=tol, max_iter=passes)
        w = np.zeros(pos.shape[1], dtype=np.float32)
        w[model.columns] = model.weights
        return w, model.bias

    return run


def methods(grid: bool) -> dict[str, Fit]:
    out: dict[str, Fit] = {"primal liblinear (before)": primal}
    defaults = f"C={DEFAULT_C:g}, tol={DEFAULT_TOL:g}, max_iter={DEFAULT_MAX_ITER}"
    out[f"fit_sparse (dual, {defaults})"] = dual()
    out["dual, max_iter=100 (liblinear's own stop)"] = dual(passes=100)
    if grid:
        for c in (3.0, 10.0, 30.0):
            for tol in (1e-4, 1e-2, 0.3, 1.0):
                out[f"dual C={c:g} tol={tol:g} max_iter=100"] = dual(c, tol, 100)
        for passes in (2, 3, 5):
            out[f"dual max_iter={passes}"] = dual(passes=passes)
    return out


def spearman(a: Any, b: Any) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def quality(x: Any, split: q.Split, fits: dict[str, Fit]) -> None:
    found: dict[str, list[list[float]]] = {name: [] for name in fits}
    candidates = x[split.candidates]
    for reader in split.readers:
        mine = np.array(reader.positives)
        others = split.background[:BACKGROUND]
        others = others[~np.isin(others, mine)]
        pos, neg = x[mine], x[others]
        scores = {}
        for name, fit in fits.items():
            w, b = fit(pos, neg)
            scores[name] = candidates @ w + b
        first = next(iter(scores.values()))
        top = set(np.argsort(-first)[:50].tolist())
        for name, s in scores.items():
            overlap = len(top & set(np.argsort(-s)[:50].tolist())) / 50
            found[name].append([*q.metrics(s, reader.relevant), overlap, spearman(first, s)])
    print(
        f"\nquality, dev cut-off {split.cutoff}, {len(split.readers)} readers, "
        f"{len(split.candidates)} candidates, term model alone (means; top-50 and Spearman "
        "against the first row):"
    )
    print("| fit | nDCG@10 | recall@50 | MRR | top-50 overlap (worst) | Spearman (worst) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, rows in found.items():
        m, worst = np.mean(rows, axis=0), np.min(rows, axis=0)
        print(
            f"| {name} | {m[0]:.4f} | {m[1]:.4f} | {m[2]:.4f} | {m[3]:.3f} ({worst[3]:.2f}) "
            f"| {m[4]:.4f} ({worst[4]:.4f}) |",
            flush=True,
        )


def timing(x: Any, split: q.Split, fits: dict[str, Fit], runs: int) -> None:
    rng = np.random.default_rng(q.SEED)
    background = split.background[:BACKGROUND]
    pool = np.setdiff1d(split.before, background)
    neg = x[background]
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in fits}
    used = []
    for run in range(runs + 1):
        pos = x[rng.choice(pool, 200, replace=False)]
        used.append(len(np.union1d(pos.indices, neg.indices)))
        for name, fit in fits.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fit(pos, neg)
            if run:  # the first: a warm-up
                times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    print(
        f"\ntiming, {runs} simulated readers, 200 positives, {BACKGROUND} background, "
        f"{x.nnz / x.shape[0]:.0f} non-zeros a row, median {np.median(used):.0f} used columns "
        f"of {x.shape[1]} (wall median / p95, CPU median, ms):"
    )
    for name, values in times.items():
        ms = 1000 * np.array(values)
        print(
            f"- {name}: {np.median(ms[:, 0]):.2f} / {np.percentile(ms[:, 0], 95):.2f}, "
            f"CPU {np.median(ms[:, 1]):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=200, help="dev readers for quality")
    parser.add_argument("--runs", type=int, default=30, help="simulated readers for timing")
    parser.add_argument("--grid", action="store_true", help="quality of other C and tol too")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args()
    if not all((q.DATA / name).is_dir() for name in q.SETS):
        print(f"skipped: {q.DATA}/{{{','.join(q.SETS)}}} not found (set PAPERFEED_BENCH_DATA)")
        return
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; load before: {load()}", flush=True)
    corpus = q.load_corpus()
    split = q.make_split(corpus, q.CUTOFFS[0], args.readers, 2 * BACKGROUND)  # dev only
    x = features(corpus)
    print(f"corpus {len(corpus.ids)} papers, tf-idf {x.shape}, {x.nnz} non-zeros", flush=True)
    if not args.skip_timing:
        timing(x, split, methods(False), args.runs)
    if not args.skip_quality:
        quality(x, split, methods(args.grid))
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
