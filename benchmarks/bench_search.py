"""Search quality and latency on a bench database.

Setup (once; the data dir is outside the repository):

    export PAPERFEED_DATA_DIR=/tmp/pfbench
    paperfeed ingest jsonl --no-index /work/shared/data/arxiv-daily-cs/*.jsonl.gz \\
        /work/shared/data/arxiv-cs-ai-daydayarxiv/*.jsonl.gz
    paperfeed index rebuild            # --keyword-only to skip embedding

Then:

    python benchmarks/bench_search.py quality    # known-item MRR@10 / recall@10
    python benchmarks/bench_search.py latency    # paperlantern queries, in-process p50/p99
    python benchmarks/bench_search.py http       # the same over HTTP (starts a server)
    python benchmarks/bench_search.py similar    # similar papers of 400 papers, in-process

``quality`` reads ``benchmarks/known_item_queries.jsonl`` (our own sentences, each with the
paper it should find) and reports keyword, semantic (when the embedder is available) and
hybrid. Every run prints the load average next to its figures (2 shared cores here).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
QUERIES = HERE / "known_item_queries.jsonl"
WORKLOAD = Path(
    os.environ.get(
        "PAPERFEED_BENCH_QUERIES",
        HERE.parent.parent / "shared" / "data" / "paperlantern-queries",
    )
)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentiles(samples: list[float]) -> str:
    s = sorted(samples)
    p50 = s[len(s) // 2]
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    return (
        f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, mean {statistics.mean(s) * 1000:.2f} ms"
    )


def workload() -> list[str]:
    out: list[str] = []
    for path in sorted(WORKLOAD.glob("*.json")):
        data = json.loads(path.read_text())
        out += [v["search_query"] for v in data.values() if v.get("search_query")]
    return out


def _setup() -> tuple[Any, Any]:
    from paperfeed.config import get_settings
    from paperfeed.store.db import get_database

    settings = get_settings()
    return settings, get_database(settings)


def quality() -> None:
    from sqlalchemy import select

    from paperfeed.search import hybrid
    from paperfeed.search.keyword import get_keyword_index
    from paperfeed.search.query import parse_query
    from paperfeed.store.models import Paper

    settings, db = _setup()
    rows = [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]
    with db.read() as s:
        ids = {a: i for a, i in s.execute(select(Paper.arxiv_id, Paper.id))}
    index = get_keyword_index(settings)
    vectors = hybrid.vector_search(settings)
    modes: dict[str, list[int | None]] = {"keyword": [], "semantic": [], "hybrid": []}
    fallbacks = 0
    for row in rows:
        target = ids.get(row["arxiv_id"])
        parsed = parse_query(row["query"])
        kw = [pid for pid, _ in index.search(parsed, 10).hits]
        modes["keyword"].append(kw.index(target) + 1 if target in kw else None)
        if vectors is not None:
            sem = [pid for pid, _ in vectors.search(parsed.semantic_text, 10)]
            modes["semantic"].append(sem.index(target) + 1 if target in sem else None)
        result = hybrid.search(db, settings, parsed, page_size=10)
        got = [i.arxiv_id for i in result.items]
        rank = got.index(row["arxiv_id"]) + 1 if row["arxiv_id"] in got else None
        modes["hybrid"].append(rank)
        fallbacks += result.mode != "hybrid"
    print(f"known-item search, {len(rows)} queries, load {load()}, hybrid fell back: {fallbacks}")
    for name, ranks in modes.items():
        if not ranks:
            print(f"  {name:10s} n/a (embedder unavailable)")
            continue
        mrr = sum(1 / r for r in ranks if r) / len(ranks)
        recall = sum(1 for r in ranks if r) / len(ranks)
        print(f"  {name:10s} MRR@10 {mrr:.3f}  recall@10 {recall:.3f}")


def latency() -> None:
    from paperfeed.search import hybrid
    from paperfeed.search.keyword import get_keyword_index
    from paperfeed.search.query import parse_query

    settings, db = _setup()
    queries = workload()
    index = get_keyword_index(settings)
    hybrid.search(db, settings, "warm up")
    print(f"{len(queries)} queries, {index.num_docs()} papers, load {load()}")
    for name, fn in (
        ("keyword index only", lambda q: index.search(parse_query(q), 20)),
        ("search service (page of 20)", lambda q: hybrid.search(db, settings, q)),
        (
            "API shape (limit 50, every word: match=all)",
            lambda q: hybrid.search(db, settings, q, page_size=50, conjunctive=True),
        ),
        (
            "API default since issue 16 (limit 50, any word)",
            lambda q: hybrid.search(db, settings, q, page_size=50),
        ),
    ):
        samples = []
        for q in queries:
            t = time.perf_counter()
            fn(q)
            samples.append(time.perf_counter() - t)
        print(f"  {name}: {percentiles(samples)}")
    # Short queries (2-3 words) as people type them.
    short = [" ".join(q.split()[:3]) for q in queries]
    samples = []
    for q in short:
        t = time.perf_counter()
        hybrid.search(db, settings, q)
        samples.append(time.perf_counter() - t)
    print(f"  search service, first 3 words of each: {percentiles(samples)}")


def similar() -> None:
    """Similar papers as the paper page asks them (``similar_to_id``, 10 papers) for 400
    papers drawn at random (seeded), each once; only names both trees have (before/after)."""
    import random

    from sqlalchemy import select

    from paperfeed.search.similar import similar_to_id
    from paperfeed.store.models import Paper

    settings, db = _setup()
    with db.read() as s:
        ids = sorted(s.scalars(select(Paper.id)))
    sample = random.Random(16).sample(ids, min(400, len(ids)))
    similar_to_id(db, settings, ids[0], 10)  # warm up: the index files and the model
    print(f"similar papers of {len(sample)} papers of {len(ids)}, load {load()}")
    samples = []
    for pid in sample:
        t = time.perf_counter()
        similar_to_id(db, settings, pid, 10)
        samples.append(time.perf_counter() - t)
    print(f"  similar papers (10): {percentiles(samples)}; load {load()}")


def http() -> None:
    import httpx

    queries = workload()
    port = 8765
    env = {**os.environ, "PAPERFEED_CACHE_SECONDS": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(100):
                try:
                    client.get("/api/papers/search", params={"q": "warm"})
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            print(f"{len(queries)} queries over HTTP, cache off, load {load()}")
            for path in ("/api/papers/search", "/search"):
                samples = []
                for q in queries:
                    t = time.perf_counter()
                    r = client.get(path, params={"q": q[:500]})
                    samples.append(time.perf_counter() - t)
                    assert r.status_code == 200, (r.status_code, r.text[:200])
                print(f"  GET {path}: {percentiles(samples)}")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    {"quality": quality, "latency": latency, "http": http, "similar": similar}[
        sys.argv[1] if len(sys.argv) > 1 else "quality"
    ]()
