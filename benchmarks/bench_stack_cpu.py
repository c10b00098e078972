"""CPU per request through the whole ASGI stack, in process (no sockets, no wrk).

    .venv/bin/python benchmarks/bench_stack_cpu.py
    PYTHONPATH=/path/to/other/tree/src .venv/bin/python benchmarks/bench_stack_cpu.py

Why: on a shared 2-core box wrk's figures move by a third between runs, while the process
time of one request through the middlewares and the route is steady to a few percent. So
a change to the request path (a middleware, a check on every route) is measured here,
against the tree before it, on the same machine, one run after the other.

What it does: a SQLite database in a temporary folder filled with the generated demo corpus
(nothing from a real data set), one user with a write token, the app from ``create_app``
with its lifespan running; then, after a warm-up, 5 rounds of N requests each of
  * an anonymous cached day page (answered before routing),
  * the JSON day list (cached),
  * a bearer-token upvote then unvote of one paper (answered before routing, SQLite),
and prints the least process time per request over the rounds, in µs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Scope = dict[str, Any]


def _environment() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="pf-stack-"))
    os.environ["PAPERFEED_DATA_DIR"] = str(tmp)
    os.environ["PAPERFEED_DATABASE_URL"] = f"sqlite:///{tmp / 'paperfeed.db'}"
    os.environ["PAPERFEED_EMBEDDING_BACKEND"] = "off"
    os.environ["PAPERFEED_CACHE_SECONDS"] = "600"
    os.environ["PAPERFEED_SECRET_KEY"] = "bench-stack-cpu"


def _scope(method: str, path: str, query: str = "", token: str | None = None) -> Scope:
    headers = [(b"host", b"127.0.0.1:8000")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Any, scope: Scope) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _measure(app: Any, make: Callable[[int], Scope], n: int, rounds: int) -> float:
    for i in range(200):
        await _call(app, make(i))
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for i in range(n):
            status = await _call(app, make(i))
            if status >= 400:
                raise SystemExit(f"{make(i)['path']}: answered {status}")
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    _environment()

    from sqlalchemy import func, select

    from paperfeed.community import tokens, users
    from paperfeed.config import get_settings
    from paperfeed.sources.demo import load_generated
    from paperfeed.store.db import get_database
    from paperfeed.store.models import DailyEntry, Paper
    from paperfeed.web.app import create_app

    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    load_generated(db, dt.datetime.now(dt.UTC).date())
    account = users.create_user(db, settings, "bencher", "bencher@example.org", "x" * 12 + "9!")
    token, _ = tokens.create_token(db, account, "bench", "write")
    with db.read() as session:
        day = session.scalar(select(func.max(DailyEntry.day)))
        paper = session.scalar(
            select(Paper.arxiv_id).join(DailyEntry).where(DailyEntry.day == day).limit(1)
        )
    app = create_app(settings, db)
    cases: list[tuple[str, Callable[[int], Scope]]] = [
        ("cached day page (anonymous)", lambda i: _scope("GET", f"/papers/date/{day}")),
        ("JSON day list (cached)", lambda i: _scope("GET", "/api/daily_papers", f"date={day}")),
        (
            "bearer upvote / unvote",
            lambda i: _scope(
                "POST" if i % 2 == 0 else "DELETE", f"/api/papers/{paper}/upvote", token=token
            ),
        ),
    ]

    async def run() -> None:
        async with app.router.lifespan_context(app):
            for name, make in cases:
                micros = await _measure(app, make, args.n, args.rounds)
                print(f"| {name} | {micros:.1f} µs |")

    print("| request | process time per request (least of the rounds) |")
    print("| --- | ---: |")
    asyncio.run(run())


if __name__ == "__main__":
    main()
