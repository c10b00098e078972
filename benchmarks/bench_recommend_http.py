"""Latency of ``GET /api/recommendations`` over HTTP, on a real ``paperfeed serve``, with wrk.

    .venv/bin/python benchmarks/bench_recommend_http.py                 # SQLite, 1 and 2 workers
    .venv/bin/python benchmarks/bench_recommend_http.py --candidates 10000 --seconds 10

What it does: builds a fresh SQLite database in a temporary folder (or uses ``--database-url``,
which must name an empty PostgreSQL database) with ``--candidates`` invented papers first
published in the last 7 days (UTC) and ``--older`` papers before them, each with a synthetic
unit vector (384 dims, clustered in topics as in make_million.py) written straight into
``paper_embeddings``; one reader with ``--upvotes`` upvotes (older papers of 3 topics), a
read token, and a trained linear model (``train.rebuild``). Then, for each ``--workers`` N,
starts ``paperfeed serve --workers N``, checks the answer (200, method ``linear``, ``limit``
items), warms up, and loads ``/api/recommendations?limit=L`` (the default window, the last
7 days) with ``nice -n 10 wrk --latency`` at 1 connection (one request at a time: the
service time) and at ``--connections`` (load), and ``/api/me`` at 1 connection (the floor:
the token's lookup and the HTTP round trip). Prints requests/s, p50 and p99 per run, and
the server's CPU time per request (its processes' user + system time, from /proc).

Only wrk is niced: the server runs at normal priority. Titles and abstracts are invented.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import WORDS, free_port, run_wrk, serve, stop, wait_ready
from bench_recommend_train import cpu_model

DIM = 384
TOPICS = 300


def _papers(
    rng: random.Random, count: int, first: dt.datetime, hours: int, serial: int
) -> list[dict[str, object]]:
    rows = []
    for n in range(count):
        published = first + dt.timedelta(seconds=rng.randint(0, hours * 3600))
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
        rows.append(
            {
                "arxiv_id": f"{published:%y%m}.{serial + n:05d}",
                "version": 1,
                "title": title.capitalize(),
                "abstract": " ".join(rng.choice(WORDS) for _ in range(150)).capitalize() + ".",
                "authors": [f"Author {rng.randint(1, 5000)}" for _ in range(rng.randint(2, 8))],
                "categories": ["cs.LG"],
                "primary_category": "cs.LG",
                "published_at": published,
                "updated_at": published,
                "imported_upvotes": rng.randint(0, 20),
            }
        )
    return rows


def build(url: str, candidates: int, older: int, upvotes: int) -> tuple[str, int]:
    """The database; returns the reader's read token and the number of candidates."""
    from sqlalchemy import insert, select

    from paperfeed.community import tokens, users
    from paperfeed.config import get_settings
    from paperfeed.recommend import train
    from paperfeed.store.db import Database
    from paperfeed.store.models import Paper, PaperEmbedding, Upvote, utcnow

    settings = get_settings()
    db = Database(url)
    db.upgrade()
    rng, nrng = random.Random(7), np.random.default_rng(7)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    week = dt.datetime.combine(now.date() - dt.timedelta(days=6), dt.time())
    with db.write() as s:
        s.execute(insert(Paper), _papers(rng, older, week - dt.timedelta(days=60), 59 * 24, 1))
        s.execute(insert(Paper), _papers(rng, candidates, week, 6 * 24 + 5, 50_000))
        ids = [
            (p, at) for p, at in s.execute(select(Paper.id, Paper.published_at).order_by(Paper.id))
        ]
    centres = nrng.standard_normal((TOPICS, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    topic = nrng.integers(0, TOPICS, len(ids))
    points = centres[topic] + nrng.standard_normal((len(ids), DIM)).astype(np.float32) * 0.04
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    model = f"all-MiniLM-L6-v2:{settings.embedding_backend}"
    with db.write() as s:
        s.execute(
            insert(PaperEmbedding),
            [
                {
                    "paper_id": pid,
                    "model": model,
                    "dim": DIM,
                    "vector": v.astype("<f4").tobytes(),
                    "content_hash": f"synthetic {pid}",
                    "embedded_at": utcnow(),
                }
                for (pid, _), v in zip(ids, points, strict=True)
            ],
        )
    account = users.create_user(
        db, settings, "reader", "reader@example.org", "not a real password 1"
    )
    token, _ = tokens.create_token(db, account, "bench", "read")
    liked_topics = set(nrng.choice(TOPICS, 3, replace=False).tolist())
    liked = [
        pid for (pid, at), t in zip(ids, topic, strict=True) if t in liked_topics and at < week
    ]
    liked = list(dict.fromkeys(liked + [pid for pid, at in ids if at < week]))[:upvotes]
    with db.write() as s:
        s.execute(insert(Upvote), [{"user_id": account.id, "paper_id": p} for p in liked])
    train.rebuild(db, settings, account.id)
    db.dispose()
    return token, sum(1 for _, at in ids if at >= week)


def cpu_seconds(group: int) -> float:
    """User + system CPU time of every live process in the process group ``group`` (the
    server: started in its own session), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def check(base: str, token: str, limit: int) -> str:
    request = urllib.request.Request(
        f"{base}/api/recommendations?limit={limit}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        method = response.headers["X-Recommendation-Method"]
        items = json.loads(response.read())
    if method != "linear" or len(items) != limit:
        raise SystemExit(f"unexpected answer: method {method}, {len(items)} items")
    return method


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--older", type=int, default=2_000)
    parser.add_argument("--upvotes", type=int, default=200)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        env = os.environ | {
            "PAPERFEED_DATA_DIR": tmp,
            "PAPERFEED_DATABASE_URL": url,
            "PAPERFEED_ARGON2_TIME_COST": "1",
            "PAPERFEED_ARGON2_MEMORY_KIB": "64",
        }
        os.environ.update(env)
        started = time.monotonic()
        token, count = build(url, args.candidates, args.older, args.upvotes)
        print(
            f"built: {count:,} candidates in the last 7 days in {time.monotonic() - started:.0f} s"
        )
        print(f"CPU: {cpu_model()}; load average {os.getloadavg()}")
        wrk = ("nice", "-n", "10", "wrk", "-H", f"Authorization: Bearer {token}")
        for workers in args.workers:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            process = serve(workers, port, env)
            try:
                wait_ready(f"{base}/api/daily_papers?limit=1", timeout=60)
                for _ in range(2 * workers):  # each worker loads its candidates once
                    check(base, token, args.limit)
                # The floor: the same token's lookup and the HTTP round trip, nothing ranked.
                _, me50, me99, _ = run_wrk(f"{base}/api/me", args.seconds, 1, 1, prefix=wrk)
                print(
                    f"workers={workers} /api/me, 1 connection: p50 {me50:.1f} ms, p99 {me99:.1f} ms"
                )
                path = f"{base}/api/recommendations?limit={args.limit}"
                run_wrk(path, 3, 1, args.connections, prefix=wrk)  # warm-up
                for connections in (1, args.connections):
                    before = cpu_seconds(process.pid)
                    rps, p50, p99, errors = run_wrk(path, args.seconds, 1, connections, prefix=wrk)
                    # Server CPU per request: what the load on a shared box does not inflate
                    # as much as wall time.
                    cpu = (cpu_seconds(process.pid) - before) / (rps * args.seconds) * 1000
                    print(
                        f"workers={workers} connections={connections}: {rps:.0f} req/s, "
                        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, server CPU {cpu:.1f} ms/request "
                        f"{errors}".rstrip(),
                        flush=True,
                    )
            finally:
                stop(process)
        print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
