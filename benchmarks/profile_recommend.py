"""Where one ``GET /api/recommendations``'s database time goes, in process (no HTTP): the
bench_recommend_http.py corpus, then ``service.recommend`` called again and again for its
reader, with wall-clock spans around its steps (candidates freshness, gather, load_model,
is_stale, the ranking and join-back, record_impressions, the JSON body) and every SQL
statement counted and timed (cursor execute to the next statement, roughly the round trip).

    .venv/bin/python benchmarks/profile_recommend.py                       # SQLite
    .venv/bin/python benchmarks/profile_recommend.py --database-url postgresql+psycopg://...

``--database-url`` must name an empty PostgreSQL database. It wraps functions of
``paperfeed.recommend.service`` by name (as of 2026-12-05): a rename there breaks this
script, not the service. Figures: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from profile_search import patch
from profile_search import spans as span_list

statements: dict[str, list[float]] = defaultdict(list)


def count_statements(engine: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        key = " ".join(sql.split())[:90]
        statements[key].append(time.perf_counter() - conn.info.pop("started"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--cprofile", type=int, default=0, help="also print the N top functions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        os.environ.update(
            {"PAPERFEED_DATA_DIR": tmp, "PAPERFEED_DATABASE_URL": url}
            | {"PAPERFEED_ARGON2_TIME_COST": "1", "PAPERFEED_ARGON2_MEMORY_KIB": "64"}
        )
        from bench_recommend_http import build

        build(url, args.candidates, 2_000, 200)
        profile(url, args.requests, args.cprofile)
    return 0


def profile(url: str, requests: int, top: int) -> None:
    from paperfeed.config import get_settings
    from paperfeed.recommend import service
    from paperfeed.store.db import Database
    from paperfeed.web.api.recommendations import _body

    settings = get_settings()
    db = Database(url)
    for name in ("candidates", "gather", "load_model", "is_stale", "_rank", "record_impressions"):
        patch(service, name, name)
    patch(service.papers, "items_by_paper_ids", "items_by_paper_ids")
    today = dt.datetime.now(dt.UTC).date()
    days = {"start": today - dt.timedelta(days=6), "end": today, "limit": 50}
    for _ in range(20):  # warm: the candidates, the caches, the recorded impressions
        service.recommend(db, settings, 1, **days)
    span_list.clear()
    count_statements(db.engine)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests):
        found = service.recommend(db, settings, 1, **days)
        began = time.perf_counter()
        _body(found)
        span_list.append(("JSON body", time.perf_counter() - began))
    total = (time.perf_counter() - started) / requests * 1000
    cpu = (time.process_time() - cpu) / requests * 1000
    print(
        f"{url.split(':')[0]}: {total:.2f} ms a request (recommend + JSON), {cpu:.2f} ms of "
        f"this process's CPU, {found.method}; load average {os.getloadavg()}"
    )
    spans: dict[str, list[float]] = defaultdict(list)
    for name, took in span_list:
        spans[name].append(took)
    for name, times in spans.items():
        print(f"  {name:24} {statistics.median(times) * 1000:7.3f} ms median, {len(times)} calls")
    print(f"  statements a request: {sum(map(len, statements.values())) / requests:.1f}")
    for sql, times in sorted(statements.items(), key=lambda kv: -sum(kv[1])):
        each = sum(times) / requests * 1000
        print(f"  {each:6.3f} ms {len(times) / requests:4.1f}x  {sql}")
    if top:
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(lambda: [service.recommend(db, settings, 1, **days) for _ in range(100)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
    db.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
