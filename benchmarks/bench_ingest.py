"""Ingest benchmark: both arXiv sets plus the Daily Papers listings into a fresh database.

Runs the real CLI commands in-process (``paperfeed ingest jsonl`` / ``daily-papers``, the same
code path as the shell), twice: the second pass must report everything unchanged and nothing
rejected. Prints records/s per step, papers/s end to end, the peak RSS of this process
(``resource.getrusage``) and each command's summary line.

    .venv/bin/python benchmarks/bench_ingest.py      # SQLite, and PostgreSQL if reachable
    .venv/bin/python benchmarks/bench_ingest.py --no-postgres
    .venv/bin/python benchmarks/bench_ingest.py --data ../shared/data --pg-url URL
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def steps(data: Path) -> list[tuple[str, list[str]]]:
    daily_cs = sorted(str(p) for p in (data / "arxiv-daily-cs").glob("*.jsonl.gz"))
    dayday = sorted(str(p) for p in (data / "arxiv-cs-ai-daydayarxiv").glob("*.jsonl.gz"))
    hf = [str(data / "hf-daily-papers" / "daily_papers.jsonl")]
    # --no-index: the figure is the ingest itself; building the search indexes (embedding
    # every abstract) is measured by bench_embed.py / bench_search.py.
    return [
        ("arxiv-daily-cs", ["ingest", "jsonl", "--no-index", *daily_cs]),
        ("arxiv-cs-ai-daydayarxiv", ["ingest", "jsonl", "--no-index", *dayday]),
        ("hf-daily-papers", ["ingest", "daily-papers", "--no-index", *hf]),
    ]


def run_pass(label: str, data: Path) -> tuple[float, int, list[str]]:
    from paperfeed.cli import cli

    runner = CliRunner()
    total_read = 0
    summaries = []
    started = time.perf_counter()
    for name, args in steps(data):
        t0 = time.perf_counter()
        result = runner.invoke(cli, args, catch_exceptions=False)
        took = time.perf_counter() - t0
        summary = result.stdout.strip().splitlines()[-1]
        read = int(summary.split(",")[0].split()[1])
        total_read += read
        summaries.append(summary)
        print(
            f"  [{label}] {name:<24} {took:6.2f}s {read / took:9.0f} rec/s  exit {result.exit_code}"
            f"  | {summary}"
        )
        if result.stderr:
            print(result.stderr[:2000], file=sys.stderr)
    return time.perf_counter() - started, total_read, summaries


def bench(url: str, data: Path, workdir: Path) -> None:
    from sqlalchemy import func, select

    from paperfeed.config import get_settings
    from paperfeed.store import db as db_module
    from paperfeed.store.models import DailyEntry, Paper

    os.environ["PAPERFEED_DATABASE_URL"] = url
    os.environ["PAPERFEED_DATA_DIR"] = str(workdir)
    get_settings.cache_clear()
    db_module._database_for.cache_clear()
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    print(f"== {backend}")
    took, read, _ = run_pass("first", data)
    database = db_module.get_database()
    with database.read() as s:
        papers = s.execute(select(func.count()).select_from(Paper)).scalar_one()
        entries = s.execute(select(func.count()).select_from(DailyEntry)).scalar_one()
    print(
        f"  first pass: {took:.2f}s, {read} records, {read / took:,.0f} records/s; "
        f"{papers} papers ({papers / took:,.0f} papers/s), {entries} daily entries; "
        f"peak RSS so far {peak_rss_mb():.0f} MB"
    )
    took2, read2, summaries = run_pass("again", data)
    all_unchanged = all(
        s.endswith(f"inserted 0, updated 0, unchanged {s.split(',')[0].split()[1]}, rejected 0")
        for s in summaries
    )
    print(
        f"  second pass: {took2:.2f}s, {read2 / took2:,.0f} records/s; "
        f"all unchanged and 0 rejected: {all_unchanged}"
    )
    database.dispose()
    db_module._database_for.cache_clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--pg-url", default=os.environ.get("PAPERFEED_TEST_DATABASE_URL", DEFAULT_PG)
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not (args.data / "arxiv-daily-cs").exists():
        print(f"data not found at {args.data}", file=sys.stderr)
        return 2
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
            bench(f"sqlite:///{Path(tmp) / 'paperfeed.db'}", args.data, Path(tmp))
        print(f"  peak RSS after SQLite: {peak_rss_mb():.0f} MB")
    if not args.no_postgres:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = make_url(args.pg_url)
        name = f"pf_bench_{uuid.uuid4().hex[:10]}"
        try:
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            print(f"== postgresql skipped: not reachable at {base.render_as_string()} ({exc})")
            return 0
        try:
            with tempfile.TemporaryDirectory(prefix="pf-bench-") as tmp:
                url = base.set(database=name).render_as_string(hide_password=False)
                bench(url, args.data, Path(tmp))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        print(f"  peak RSS at the end: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
