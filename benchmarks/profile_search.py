"""Where a hybrid search's time goes: wall-clock spans around each step of
``hybrid.search`` (parse, the embedding and ANN in the caller's thread, the keyword side in
the pool thread (search, author look-up, count), the wait for it, fusion, join-back), per
query, over the bench workload.

    export PAPERFEED_DATA_DIR=/tmp/pfbench PAPERFEED_EMBEDDING_QUERY_CACHE_SIZE=0
    python benchmarks/profile_search.py            # as served (keyword side beside the embedding)
    python benchmarks/profile_search.py --serial   # one step after another: each step's own cost
    python benchmarks/profile_search.py --short    # the first 3 words of each query

It wraps private functions of ``paperfeed.search`` (names as of 2026-12-05): a rename there
breaks this script, not the service. Spans nest (a step's line includes the lines indented
under it); the pool thread's spans overlap the main thread's. Figures: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_search

from paperfeed.search import hybrid, keyword, keyword_query
from paperfeed.search import vectors as vectors_module

spans: list[tuple[str, float]] = []


def timed(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spans.append((name, time.perf_counter() - started))

    return wrapper


def patch(owner: Any, attr: str, name: str) -> None:
    setattr(owner, attr, timed(name, getattr(owner, attr)))


class Spied:
    """A stand-in for an object whose named methods are timed (a tokenizer, a session)."""

    def __init__(self, inner: Any, names: dict[str, str]) -> None:
        self._inner = inner
        for attr, name in names.items():
            setattr(self, attr, timed(name, getattr(inner, attr)))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)


STEPS = (
    (hybrid, "parse_query", "parse the query"),
    (hybrid, "vector_search", "find the vector search"),
    (hybrid, "ensure_fresh", "keyword index freshness check"),
    (hybrid, "_semantic_side", "semantic side (this thread)"),
    (vectors_module.VectorSearch, "embed_query", "  embed the query"),
    (hybrid, "_semantic", "  nearest papers (ANN)"),
    (vectors_module.VectorSearch, "_fresh", "    vector index freshness check"),
    (hybrid, "_keyword_side", "[pool] keyword side"),
    (keyword.KeywordIndex, "search", "[pool]   index.search"),
    (keyword_query, "text_query", "[pool]     build the text query"),
    (keyword_query, "_fuzzy", "[pool]       fuzzy look-up of unknown words"),
    (keyword_query, "_author_phrases", "[pool]       author-name phrases"),
    (keyword_query, "_hits", "[pool]     ids of the hits (fast field)"),
    (keyword.KeywordIndex, "named_ids", "[pool]   named authors among the keyword hits"),
    (keyword.KeywordIndex, "count", "[pool]   every-word count (page)"),
    (hybrid, "fuse", "fusion"),
    (hybrid, "_join_back", "join-back (the page's rows)"),
)


def _timed_wait(in_background: Any) -> Any:
    """``hybrid._in_background`` whose returned call (the wait for the keyword side) is
    timed."""

    @functools.wraps(in_background)
    def wrapper(job: Any) -> Any:
        return timed("wait for the keyword side", in_background(job))

    return wrapper


def main() -> None:
    settings, db = bench_search._setup()
    queries = bench_search.workload()
    if "--short" in sys.argv:
        queries = [" ".join(q.split()[:3]) for q in queries]
    hybrid.EMBED_CONCURRENTLY = "--serial" not in sys.argv
    count = "--count" in sys.argv
    for owner, attr, name in STEPS:
        patch(owner, attr, name)
    hybrid._in_background = _timed_wait(hybrid._in_background)
    hybrid.search(db, settings, "warm up")
    vectors: Any = hybrid.vector_search(settings)
    embedder = vectors.embedder
    embedder._tokenizer = Spied(embedder._tokenizer, {"encode_batch": "    tokenize"})
    embedder._query_session = Spied(embedder._query_session, {"run": "    ONNX Runtime"})
    per: dict[str, list[float]] = defaultdict(list)
    totals = []
    for q in queries:
        spans.clear()
        started = time.perf_counter()
        hybrid.search(db, settings, q, count=count)
        totals.append(time.perf_counter() - started)
        summed: dict[str, float] = defaultdict(float)
        for name, seconds in spans:
            summed[name] += seconds
        for name, seconds in summed.items():
            per[name].append(seconds)
    print(
        f"{len(queries)} queries, keyword side beside the embedding: {hybrid.EMBED_CONCURRENTLY}, "
        f"count: {count}, load {bench_search.load()}"
    )
    row("hybrid.search, whole", totals)
    for _, _, name in STEPS:
        if name in per:
            row(name, per[name])
    for name in ("    tokenize", "    ONNX Runtime", "wait for the keyword side"):
        if name in per:
            row(name, per[name])


def row(name: str, samples: list[float]) -> None:
    s = sorted(samples)
    print(
        f"  {name:42s} p50 {s[len(s) // 2] * 1000:6.2f}  mean {statistics.mean(s) * 1000:6.2f}  "
        f"p90 {s[int(len(s) * 0.9)] * 1000:6.2f} ms"
    )


if __name__ == "__main__":
    main()
