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
    python benchmarks/bench_search.py ranks OUT  # every ranking of a fixed query set, as JSON

``latency`` gives wall-clock p50/p99 and the process's CPU time per search (all threads: less
sensitive to other work on the box than wall-clock); ``PAPERFEED_EMBEDDING_QUERY_CACHE_SIZE=0``
embeds every query. ``ranks`` writes what two trees must agree on (run it with each tree's
``PYTHONPATH``, then compare the files): the page's papers for the workload, its first words,
names with title words and filters (built from the database at run time, seeded).

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


def percentiles(samples: list[float], cpu: float | None = None) -> str:
    s = sorted(samples)
    p50 = s[len(s) // 2]
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    line = (
        f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, mean {statistics.mean(s) * 1000:.2f} ms"
    )
    return line if cpu is None else f"{line}, CPU {cpu / len(s) * 1000:.2f} ms a search"


def timed(fn: Any, queries: list[str], before: Any = None) -> str:
    """Wall-clock percentiles of ``fn`` over ``queries``, and the process's CPU time."""
    samples = []
    cpu = time.process_time()
    for q in queries:
        if before is not None:
            before()
        t = time.perf_counter()
        fn(q)
        samples.append(time.perf_counter() - t)
    return percentiles(samples, time.process_time() - cpu)


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
            "search page as /search asks (page of 20, every-word count)",
            lambda q: hybrid.search(db, settings, q, page_size=20, count=True),
        ),
        (
            "API shape (limit 50, every word: match=all)",
            lambda q: hybrid.search(db, settings, q, page_size=50, conjunctive=True),
        ),
        (
            "API default since issue 16 (limit 50, any word)",
            lambda q: hybrid.search(db, settings, q, page_size=50),
        ),
    ):
        print(f"  {name}: {timed(fn, queries)}")
    # Short queries (2-3 words) as people type them.
    short = [" ".join(q.split()[:3]) for q in queries]
    print(f"  search service, first 3 words of each: {timed(page(db, settings), short)}")
    quiet = queries[:: max(1, len(queries) // 50)]
    print(
        f"  search service, each past the refresh intervals ({len(quiet)}, a quiet site): "
        f"{timed(page(db, settings), quiet, lambda: _past_intervals(settings))}; load {load()}"
    )


def page(db: Any, settings: Any) -> Any:
    from paperfeed.search import hybrid

    return lambda q: hybrid.search(db, settings, q)


def _past_intervals(settings: Any) -> None:
    """As if the last search was long ago (a quiet site): the keyword index's and the vector
    index's checks of the database are due (and what the last one started has finished)."""
    from paperfeed.search import hybrid

    time.sleep(0.3)
    for key in hybrid._last_check:
        hybrid._last_check[key] -= 3600
    vectors: Any = hybrid.vector_search(settings)
    if vectors is not None:
        vectors._checked -= 3600


def ranks() -> None:
    """Every ranking a search tree gives for a fixed query set, as JSON (``ranks OUT``)."""
    import random

    from sqlalchemy import select

    from paperfeed.search import hybrid
    from paperfeed.store.models import Paper

    settings, db = _setup()
    queries = workload()
    with db.read() as s:
        rows = s.execute(select(Paper.title, Paper.authors).order_by(Paper.id)).all()
    rng = random.Random(16)
    named = []
    for title, authors in rng.sample(rows, 100):
        words = title.split()
        named.append(f"{(authors or ['nobody'])[0]} {' '.join(words[: rng.randint(0, 3)])}")
    short = [" ".join(q.split()[:3]) for q in queries]
    filtered = [f"cat:cs.LG {q}" for q in short[:50]] + [f"year:2024 {q}" for q in short[50:100]]
    out: dict[str, Any] = {}
    for group, texts in (
        ("workload", queries),
        ("short", short),
        ("named", named),
        ("filtered", filtered),
    ):
        for i, q in enumerate(texts):
            page1 = hybrid.search(db, settings, q, count=True)
            page2 = hybrid.search(db, settings, q, page=2)
            api = hybrid.search(db, settings, q, page_size=50, conjunctive=True)
            out[f"{group}/{i}"] = {
                "page": [item.arxiv_id for item in page1.items],
                "page2": [item.arxiv_id for item in page2.items],
                "all_words": [item.arxiv_id for item in api.items],
                "counts": [page1.total, page1.every_word, page1.has_more, page1.mode],
            }
    Path(sys.argv[2]).write_text(json.dumps(out, indent=0, sort_keys=True))
    print(f"{len(out)} queries ranked into {sys.argv[2]}")


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
    {"quality": quality, "latency": latency, "http": http, "similar": similar, "ranks": ranks}[
        sys.argv[1] if len(sys.argv) > 1 else "quality"
    ]()
