"""Upvote write throughput of a real ``paperfeed serve --workers 2`` over loopback, with many
users at once, and what it does to the day page's read throughput.

    .venv/bin/python benchmarks/bench_upvotes.py                  # SQLite, print the figures
    .venv/bin/python benchmarks/bench_upvotes.py --postgres       # also PostgreSQL
    .venv/bin/python benchmarks/bench_upvotes.py --postgres --write   # update RESULTS.md

What it does, per database (SQLite file; PostgreSQL: a fresh database created on
``--pg-url``'s server and dropped afterwards): builds the invented papers of ``bench_http.py``
(30 days × 60 papers), creates ``--users`` users, each with a ``write`` API token, starts
``paperfeed serve --workers 2``, then measures with wrk (C, so the load generator takes as
little CPU from the server as possible):

1. reads alone: ``GET /papers/date/D`` (anonymous, the HTML day page), ``-c32``;
2. writes alone: ``POST``/``DELETE /api/papers/{id}/upvote`` with ``Authorization: Bearer``,
   one connection per user (``-c{users}``, a closed loop: each user waits for its answer);
   a Lua script gives every request a user and a random paper of day D and alternates
   upvote / take back per (user, paper), so nearly every request changes a row;
3. both at once (two wrk processes), for the same time.

Reported: upvotes/s (2xx answers), p50/p99 of the writes, the reads' req/s alone and
under writes (the ratio is the goal's "keeps serving 80 %"), the 1-minute load average
before each step, and a check that ``papers.user_upvotes`` equals the number of vote rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import build_database, free_port, serve, stop, to_ms, wait_ready

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"
SECTION = "## Upvotes under load"

NOTES = [
    "Goal: ≥ 500 upvotes/s at p99 < 100 ms while the day page keeps ≥ 80 % of its read-only",
    "throughput. On a shared machine the read ratio and the tails follow the other jobs (the",
    "load column); what the load cannot blur is the server's CPU per upvote (the CPU time of",
    "the whole `serve` process group over the write step, divided by the requests; the",
    "PostgreSQL server's own CPU is not counted).",
]

LUA = """
local tokens = {%(tokens)s}
local papers = {%(papers)s}
local threads = {}
local nthreads = %(threads)d

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- Each request is three strings joined (method, path, this user's headers) made once at
-- init. With wrk.format per request, wrk took 116-134 us of CPU per upvote, now 107-111 us:
-- CPU the load generator no longer takes from the server on this shared box.
function init(args)
  counter = 0
  state = {}
  math.randomseed(tid * 7919 + 17)
  paths = {}
  for p = 1, #papers do
    paths[p] = " /api/papers/" .. papers[p] .. "/upvote HTTP/1.1\\r\\n"
  end
  heads = {}
  for u = 1, #tokens do
    heads[u] = "Host: " .. wrk.headers["Host"] .. "\\r\\nAuthorization: Bearer " .. tokens[u]
      .. "\\r\\nAccept: application/json\\r\\nContent-Length: 0\\r\\n\\r\\n"
  end
end

-- think time: each user (connection) waits a while before its next request, so the
-- offered load is about users / mean think time (bounded, like real users), not a flood.
-- Drawn from an exponential distribution (Poisson arrivals): with one fixed think time all
-- users stay in lockstep and every request arrives in one burst per think time, which
-- measures the burst's queue, not the server.
function delay()
  return math.floor(-%(think_ms)d * math.log(1 - math.random()))
end

function request()
  counter = counter + 1
  -- users are split between wrk threads, so no two threads toggle the same vote
  local u = ((counter * nthreads + tid) %% #tokens) + 1
  local p = math.random(#papers)
  local key = u * 100000 + p
  local up = not state[key]
  state[key] = up
  return (up and "POST" or "DELETE") .. paths[p] .. heads[u]
end
"""


@dataclass
class Wrk:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: str

    @property
    def ok_per_s(self) -> float:
        return (self.requests - self.non2xx) / self.seconds


@dataclass
class Round:
    """One step of writes during the read flood, between two steps of reads alone."""

    writes: Wrk
    reads: Wrk
    reads_before: Wrk
    reads_after: Wrk

    @property
    def ratio(self) -> float:
        alone = (self.reads_before.rps + self.reads_after.rps) / 2
        return self.reads.rps / alone if alone else 0.0


@dataclass
class Result:
    backend: str
    reads_alone: Wrk
    writes_alone: Wrk
    rounds: list[Round]
    loads: dict[str, float]
    consistent: bool
    cpu_ms_per_write: float


def wrk_command(url: str, seconds: int, connections: int, script: Path | None) -> list[str]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script is not None:
        command += ["-s", str(script)]
    return [*command, url]


def parse_wrk(out: str) -> Wrk:
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if not m:
        raise RuntimeError(f"unreadable wrk output:\n{out}")
    seconds = float(m[2]) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m[3]]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return Wrk(
        requests=int(m[1]),
        seconds=seconds,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        p50_ms=to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1]),  # type: ignore[index]
        p99_ms=to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1]),  # type: ignore[index]
        non2xx=int(non2xx[1]) if non2xx else 0,
        socket_errors=errors[0] if errors else "",
    )


def run_wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> Wrk:
    done = subprocess.run(
        wrk_command(url, seconds, connections, script),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    _no_script_error(done.stderr)
    return parse_wrk(done.stdout)


def _no_script_error(stderr: str) -> None:
    """wrk reports a Lua error on stderr and goes on with a plain ``GET`` of the URL, which
    would be measured as upvotes: stop instead."""
    if stderr.strip():
        raise RuntimeError(f"wrk: {stderr.strip()}")


def server_cpu_seconds(group: int) -> float:
    """CPU time (user + system) of every process in the server's process group (Linux):
    what one upvote costs the server, whatever else the machine is doing."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def make_users(url: str, n: int) -> list[str]:
    """``n`` users with one write token each (cheap Argon2: the hashes are never checked)."""
    from paperfeed.community import tokens, users
    from paperfeed.config import Settings
    from paperfeed.store.db import Database

    settings = Settings(database_url=url, argon2_time_cost=1, argon2_memory_kib=64)
    db = Database(url)
    made = []
    for i in range(n):
        account = users.create_user(
            db, settings, f"bench{i:04d}", f"bench{i:04d}@example.org", "bench password 123"
        )
        made.append(tokens.create_token(db, account, "bench", "write")[0])
    db.dispose()
    return made


def day_papers(url: str, day: dt.date) -> list[str]:
    from sqlalchemy import select

    from paperfeed.store.db import Database
    from paperfeed.store.models import DailyEntry, Paper

    db = Database(url)
    with db.read() as session:
        ids = list(
            session.scalars(
                select(Paper.arxiv_id)
                .join(DailyEntry, DailyEntry.paper_id == Paper.id)
                .where(DailyEntry.day == day)
            )
        )
    db.dispose()
    return ids


def consistent(url: str) -> bool:
    """Every paper's ``user_upvotes`` equals its number of vote rows."""
    from sqlalchemy import text

    from paperfeed.store.db import Database

    db = Database(url)
    with db.read() as session:
        bad = session.execute(
            text(
                "SELECT count(*) FROM papers p WHERE p.user_upvotes <> "
                "(SELECT count(*) FROM upvotes u WHERE u.paper_id = p.id)"
            )
        ).scalar_one()
    db.dispose()
    return int(bad) == 0


def measure(backend: str, url: str, data_dir: Path, args: argparse.Namespace) -> Result:
    started = time.monotonic()
    day = build_database(url, 30, 60)
    tokens = make_users(url, args.users)
    papers = day_papers(url, day)
    print(
        f"[{backend}] {len(papers)} papers on {day}, {len(tokens)} users with tokens, "
        f"set up in {time.monotonic() - started:.1f} s"
    )
    script = data_dir / "upvotes.lua"
    script.write_text(
        LUA
        % {
            "tokens": ", ".join(f'"{t}"' for t in tokens),
            "papers": ", ".join(f'"{p}"' for p in papers),
            "threads": 2,
            "think_ms": round(1000 * args.users / args.rate),
        }
    )
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_DATABASE_URL": url,
        "PAPERFEED_EMBEDDING_BACKEND": "off",
    }
    port = free_port()
    process = serve(2, port, env)
    base = f"http://127.0.0.1:{port}"
    read_url = f"{base}/papers/date/{day}"
    write_url = f"{base}/"
    loads: dict[str, float] = {}
    try:
        wait_ready(f"{base}/api/daily_papers?limit=1")
        run_wrk(read_url, 2, 32)  # warm-up
        run_wrk(write_url, 2, args.users, script)
        loads["reads"] = os.getloadavg()[0]
        reads_alone = run_wrk(read_url, args.seconds, 32)
        print(f"[{backend}] reads alone: {reads_alone}")
        loads["writes"] = os.getloadavg()[0]
        cpu_before = server_cpu_seconds(process.pid)
        writes_alone = run_wrk(write_url, args.seconds, args.users, script)
        cpu_ms = (server_cpu_seconds(process.pid) - cpu_before) * 1000 / writes_alone.requests
        print(f"[{backend}] writes alone: {writes_alone}")
        loads["mixed"] = os.getloadavg()[0]
        rounds = mixed_rounds(backend, read_url, write_url, script, args)
    finally:
        stop(process)
    ok = consistent(url)
    print(f"[{backend}] user_upvotes == vote rows for every paper: {ok}")
    return Result(backend, reads_alone, writes_alone, rounds, loads, ok, cpu_ms)


def mixed_rounds(
    backend: str, read_url: str, write_url: str, script: Path, args: argparse.Namespace
) -> list[Round]:
    """Mixed steps alternating with reads-alone steps; each mixed step's reads are compared
    with the reads alone just before and after it: the VM's speed drifts by tens of per
    cent within a minute, which one reads-alone step 20 s earlier mistook for the writes'
    cost."""
    rounds: list[Round] = []
    step = args.step_seconds
    before = run_wrk(read_url, step, 32)
    for n in range(args.rounds):
        writer = subprocess.Popen(
            wrk_command(write_url, step, args.users, script),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        reads_mixed = run_wrk(read_url, step, 32)
        out, err = writer.communicate(timeout=step + 60)
        _no_script_error(err)
        writes_mixed = parse_wrk(out)
        after = run_wrk(read_url, step, 32)
        rounds.append(Round(writes_mixed, reads_mixed, before, after))
        print(
            f"[{backend}] round {n + 1}: writes {writes_mixed.ok_per_s:.0f}/s "
            f"p99 {writes_mixed.p99_ms:.1f} ms; reads {reads_mixed.rps:,.0f}/s, alone "
            f"{before.rps:,.0f} before and {after.rps:,.0f} after "
            f"(ratio {rounds[-1].ratio:.0%})"
        )
        before = after
    return rounds


def run_sqlite(args: argparse.Namespace) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix="paperfeed-bench-upvotes-"))
    try:
        return measure("SQLite", f"sqlite:///{tmp / 'paperfeed.db'}", tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_postgres(args: argparse.Namespace) -> Result:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(args.pg_url)
    name = f"pf_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    tmp = Path(tempfile.mkdtemp(prefix="paperfeed-bench-upvotes-"))
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        return measure("PostgreSQL", url, tmp, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--rate", type=float, default=600, help="offered upvotes/s (sets each user's think time)"
    )
    parser.add_argument(
        "--rounds", type=int, default=8, help="mixed steps, each followed by reads alone"
    )
    parser.add_argument(
        "--step-seconds",
        type=int,
        default=5,
        help="length of each mixed and reads-alone step (short: the VM's speed drifts)",
    )
    parser.add_argument("--postgres", action="store_true", help="also measure PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true", help="skip SQLite")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--write", action="store_true", help=f"update RESULTS.md {SECTION!r}")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    results = [] if args.postgres_only else [run_sqlite(args)]
    if args.postgres or args.postgres_only:
        results.append(run_postgres(args))
    print()
    for line in table(results):
        print(line)
    if args.write:
        write_results(results, args)
    return 0


def table(results: list[Result]) -> list[str]:
    """One row per database. With reads: the lowest rate, the worst p99 and the median
    read ratio of the rounds (every round's figures are printed as it runs)."""
    lines = [
        "| database | upvotes/s alone | p50 | p99 | server CPU per upvote | upvotes/s with reads "
        "(lowest) | p99 of the rounds: median (worst) | day page req/s alone (median) "
        "| with writes (median) | ratio: median (middle half; all rounds) "
        "| load (reads / writes / mixed) | counts consistent |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        w = r.writes_alone
        mixed = [x.writes for x in r.rounds]
        ratios = [x.ratio for x in r.rounds]
        alone = [r.rounds[0].reads_before.rps, *(x.reads_after.rps for x in r.rounds)]
        extra = "".join(f" ({x.non2xx} non-2xx)" for x in (w, *mixed) if x.non2xx) + "".join(
            f" ({x.socket_errors})" for x in (w, *mixed) if x.socket_errors
        )
        lines.append(
            f"| {r.backend} | {w.ok_per_s:,.0f}{extra} | {w.p50_ms:.1f} ms | {w.p99_ms:.1f} ms "
            f"| {r.cpu_ms_per_write:.2f} ms | {min(x.ok_per_s for x in mixed):,.0f} "
            f"| {statistics.median(x.p99_ms for x in mixed):.1f} ms "
            f"({max(x.p99_ms for x in mixed):.1f} ms) "
            f"| {statistics.median(alone):,.0f} "
            f"| {statistics.median(x.reads.rps for x in r.rounds):,.0f} "
            f"| {statistics.median(ratios):.0%} ({_middle_half(ratios)}; "
            f"{' / '.join(f'{x:.0%}' for x in ratios)}) "
            f"| {r.loads['reads']:.1f} / {r.loads['writes']:.1f} / {r.loads['mixed']:.1f} "
            f"| {'yes' if r.consistent else 'NO'} |"
        )
    return lines


def _middle_half(values: list[float]) -> str:
    """The interquartile range of ``values`` as per cents, e.g. ``78-84 %``."""
    if len(values) < 4:
        return f"{min(values):.0%}-{max(values):.0%}"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.0%}-{q3:.0%}"


def cpu_model() -> str:
    """The CPU's model name (Linux), for the record of where a figure was measured."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "an unknown CPU"


def write_results(results: list[Result], args: argparse.Namespace) -> None:
    lines = [
        SECTION,
        "",
        f"Date: {dt.date.today()}. Machine: {os.cpu_count()} cores of {cpu_model()}; wrk,",
        "the server and the database all run on it (the load column: 1-minute load average).",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_upvotes.py --postgres --write` — "
        f"{args.users} users with write tokens, `paperfeed serve --workers 2`, "
        f"{args.seconds} s per step: day page alone (`wrk -c32`), upvote / take-back writes "
        f"alone (`wrk -c{args.users}` + Lua, one connection per user, each waiting "
        f"{round(1000 * args.users / args.rate)} ms between its requests: about "
        f"{args.rate:.0f} upvotes/s offered), then both at once.",
        "",
        *table(results),
        "",
        *NOTES,
        "",
    ]
    block = "\n".join(lines)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(text.rstrip("\n") + "\n")
    print(f"wrote section {SECTION!r} of {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
