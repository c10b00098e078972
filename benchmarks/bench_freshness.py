"""Cost of one freshness check of the embeddings, on an existing database (read only): the
checks that search's vector index (``table_mark``, then ``table_state``) and recommend's
candidates (``current_model`` and ``table_state``: ``refreshed`` when nothing changed) run
every ``PAPERFEED_ANN_REFRESH_SECONDS``.

    .venv/bin/python benchmarks/bench_freshness.py sqlite:////tmp/copy/paperfeed.db
    .venv/bin/python benchmarks/bench_freshness.py postgresql+psycopg://postgres@127.0.0.1/copy

Prints the median and best of ``--repeat`` calls of each, in milliseconds, and on
PostgreSQL how much of ``paper_embeddings`` is all-visible (an index-only scan reads the
table's pages that are not). Figures: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from paperfeed.recommend import candidates
from paperfeed.search.vector_rows import table_mark
from paperfeed.store.db import Database
from paperfeed.store.embeddings import table_state


def timed(session: Session, check: Callable[[Session], Any], repeat: int) -> list[float]:
    check(session)  # warm: the pages in the cache, the statement compiled
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        check(session)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    db = Database(args.url)
    with db.read() as session:
        model = candidates.current_model(session)
        old = candidates.load(session)
        print(f"{len(old):,} embeddings of {model}")
        if not db.is_sqlite:
            pages, visible = session.execute(
                text(
                    "SELECT relpages, relallvisible FROM pg_class"
                    " WHERE relname = 'paper_embeddings'"
                )
            ).one()
            print(f"paper_embeddings: {visible} of {pages} pages all-visible")
        checks: dict[str, Callable[[Session], Any]] = {
            "table_state": lambda s: table_state(s, model),
            "table_mark": table_mark,
            "current_model": candidates.current_model,
            "candidates.refreshed (no change)": lambda s: candidates.refreshed(s, old),
        }
        for name, check in checks.items():
            times = timed(session, check, args.repeat)
            print(f"  {name:34} median {statistics.median(times):7.2f} ms, best {min(times):7.2f}")
    db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
