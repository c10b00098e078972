"""Daily digest at scale: compose (freeze the run), render, deliver to a local SMTP sink.

    .venv/bin/python benchmarks/bench_digest.py [--subscribers 100000] [--workers 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench] [--for-you N]

A third of the subscribers have topic preferences (categories, keywords, authors);
``--for-you N``: the first N have an account with upvotes (random embeddings), so their
digests carry a For-you section (one recommendation each while composing). The
SMTP sink is aiosmtpd's ``Sink`` handler in its own process on loopback. Delivery runs as
``--workers`` real ``paperfeed digest send`` processes sharing the run. Reports digests/s for
each phase, peak RSS (this process and the senders), and the load average (shared cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

CATS = ["cs.CL", "cs.LG", "cs.CV", "cs.AI", "stat.ML", "cs.RO", "cs.IR", "eess.AS"]
WORDS = ["diffusion", "retrieval", "agents", "speculative decoding", "robotics", "reasoning"]
DAY = dt.date(2025, 3, 7)
NOW = dt.datetime.combine(DAY, dt.time(20))
DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Figures:
    """What one run measured."""

    deliveries: int = 0
    contents: int = 0
    compose_s: float = 0.0
    render_s: float = 0.0
    render_bytes: int = 0
    deliver_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    sender_cpu: float = 0.0
    sink_cpu: float = 0.0
    sender_lines: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_pg(url: str) -> str:
    base = make_url(url)
    name = f"pf_bench_{os.getpid()}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_pg(url: str) -> None:
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def bench_env(url: str, data_dir: Path, port: int) -> dict[str, str]:
    """The environment of this process and of the senders: this database and the sink."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATA_DIR=str(data_dir),
        PAPERFEED_DATABASE_URL=url,
        PAPERFEED_SECRET_KEY="bench-secret",
        PAPERFEED_SMTP_HOST="127.0.0.1",
        PAPERFEED_SMTP_PORT=str(port),
        PAPERFEED_SMTP_TLS="none",
        PAPERFEED_MAIL_FROM="digest@bench.test",
        PAPERFEED_DIGEST_RATE_PER_SECOND="0",
        PAPERFEED_EMBEDDING_BACKEND="off",
    )
    return env


def papers_and_entries(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """14 days x 25 featured papers (the day's list + the trending window)."""
    papers, entries = [], []
    pid = 0
    for d in range(14):
        day = DAY - dt.timedelta(days=d)
        for i in range(25):
            pid += 1
            cats = rng.sample(CATS, 2)
            papers.append(
                {
                    "id": pid,
                    "arxiv_id": f"2503.{pid:05d}",
                    "title": f"Bench paper {pid} on {rng.choice(WORDS)}",
                    "abstract": f"We study {rng.choice(WORDS)} and {rng.choice(WORDS)}. " * 6,
                    "authors": [f"Author {rng.randrange(300)}" for _ in range(4)],
                    "categories": cats,
                    "primary_category": cats[0],
                    "published_at": dt.datetime.combine(day, dt.time(1)),
                    "imported_upvotes": rng.randrange(200),
                    "github_repo": "https://github.com/example/x" if i % 3 == 0 else None,
                    "created_at": NOW,
                    "modified_at": NOW,
                }
            )
            entries.append(
                {
                    "paper_id": pid,
                    "day": day,
                    "submitted_at": dt.datetime.combine(day, dt.time(8, i)),
                    "source": "import",
                }
            )
    return papers, entries


def subscribers(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """``n`` confirmed daily subscribers, a third of them with topics."""
    subs = []
    for i in range(n):
        topical = i % 3 == 0
        subs.append(
            {
                "email": f"s{i:06d}@example.org",
                "status": "confirmed",
                "period": "daily",
                "timezone": "UTC",
                "send_hour": 7,
                "send_weekday": 0,
                "max_papers": 10,
                "categories": rng.sample(CATS, 1) if topical else [],
                "keywords": [rng.choice(WORDS)] if topical and i % 2 == 0 else [],
                "authors": [f"Author {rng.randrange(300)}"] if topical and i % 5 == 0 else [],
                "consent_at": NOW,
                "consent_source": "bench",
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    return subs


def seed(db: Any, n_subscribers: int) -> None:
    from paperfeed.store.models import DailyEntry, Paper, Subscriber

    rng = random.Random(1)
    papers, entries = papers_and_entries(rng)
    subs = subscribers(rng, n_subscribers)
    with db.write() as session:
        session.execute(insert(Paper), papers)
        session.execute(insert(DailyEntry), entries)
        for i in range(0, len(subs), 10_000):
            session.execute(insert(Subscriber), subs[i : i + 10_000])


def seed_for_you(db: Any, n_readers: int, n_papers: int) -> None:
    """Random unit embeddings for every paper; the first ``n_readers`` subscribers get an
    account with 6 upvotes (enough for a linear model, trained when the run asks)."""
    import numpy as np

    from paperfeed.store.embeddings import to_blob
    from paperfeed.store.models import PaperEmbedding, Subscriber, Upvote, User

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(n_papers, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with db.write() as session:
        session.execute(
            insert(PaperEmbedding),
            [
                {"paper_id": i + 1, "model": "bench-minilm", "dim": 384,
                 "vector": to_blob(vectors[i]), "content_hash": "bench", "embedded_at": NOW}
                for i in range(n_papers)
            ],
        )  # fmt: skip
        users = [{"id": u + 1, "username": f"reader{u}", "email": f"s{u:06d}@example.org",
                  "password_hash": "x", "created_at": NOW} for u in range(n_readers)]  # fmt: skip
        if users:
            session.execute(insert(User), users)
            picks = [(u + 1, int(p) + 1) for u in range(n_readers)
                     for p in rng.choice(n_papers, 6, replace=False)]  # fmt: skip
            session.execute(
                insert(Upvote), [{"user_id": u, "paper_id": p, "created_at": NOW} for u, p in picks]
            )
            for u in range(n_readers):
                session.execute(
                    update(Subscriber)
                    .where(Subscriber.email == f"s{u:06d}@example.org")
                    .values(user_id=u + 1)
                )


def compose(db: Any, settings: Any, out: Figures) -> int:
    """Freeze the run (every recipient's list, one transaction); the run's id."""
    from paperfeed.digest import deliver
    from paperfeed.digest.clock import Clock

    t = time.perf_counter()
    run = deliver.create_run(db, settings, "daily", DAY, Clock())
    out.compose_s = time.perf_counter() - t
    out.deliveries = run.recipients
    return run.id


def render_all(db: Any, settings: Any, run_id: int, out: Figures) -> None:
    """Every recipient's message, in this process (senders do the same)."""
    from paperfeed.digest.compose import period_for
    from paperfeed.digest.render import Recipient, Renderer
    from paperfeed.store.models import DigestContent, DigestDelivery

    renderer = Renderer(db, settings)
    period = period_for("daily", DAY)
    with db.read() as session:
        contents = {
            cid: (ids, reasons or [])
            for cid, ids, reasons in session.execute(
                select(DigestContent.id, DigestContent.paper_ids, DigestContent.for_you)
            )
        }
        d = DigestDelivery
        rows = session.execute(select(d.subscriber_id, d.email, d.content_id)).all()
    t = time.perf_counter()
    for sid, email, cid in rows:
        content = renderer.content(period, cid, *contents[cid])
        message = renderer.message(content, Recipient(sid, email), run_id, period, NOW)
        out.render_bytes += len(message)
    out.render_s = time.perf_counter() - t
    out.contents = len(contents)


def deliver_all(db: Any, env: dict[str, str], workers: int, out: Figures) -> None:
    """Real ``paperfeed digest send`` processes sharing the run."""
    from paperfeed.store.models import DigestDelivery

    cmd = [str(Path(sys.executable).with_name("paperfeed")), "digest", "send",
           "--period", "daily", "--date", DAY.isoformat()]  # fmt: skip
    t = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(workers)]  # fmt: skip
    outs = [p.communicate()[0] for p in procs]
    out.deliver_s = time.perf_counter() - t
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.sender_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    out.sender_lines = [o.strip().splitlines()[-2] if o.strip() else "-" for o in outs]
    with db.read() as session:
        out.counts = dict(
            session.execute(
                select(DigestDelivery.status, func.count()).group_by(DigestDelivery.status)
            ).all()
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(kind: str, args: argparse.Namespace, f: Figures, load0: float) -> None:
    n = f.deliveries
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"database: {kind}, subscribers: {args.subscribers} ({args.for_you} with For you), "
          f"deliveries: {n}, distinct contents: {f.contents}, senders: {args.workers}")  # fmt: skip
    print(f"compose: {f.compose_s:.1f} s ({n / f.compose_s:,.0f} digests/s)")
    print(f"render:  {f.render_s:.1f} s ({n / f.render_s:,.0f} digests/s, "
          f"avg {f.render_bytes / n:,.0f} bytes)")  # fmt: skip
    print(f"deliver: {f.deliver_s:.1f} s ({n / f.deliver_s:,.0f} digests/s) -> {f.counts}")
    print(f"         sender CPU {f.sender_cpu:.1f} s ({1000 * f.sender_cpu / n:.2f} ms per digest)")
    print(f"         SMTP sink CPU {f.sink_cpu:.1f} s ({1000 * f.sink_cpu / n:.2f} ms per digest)")
    print(f"total (compose + deliver, which renders): {f.compose_s + f.deliver_s:.1f} s")
    print(f"peak RSS: bench process {self_rss:.0f} MiB, largest child {child_rss:.0f} MiB")
    print(f"load average: start {load0:.2f}, end {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")  # fmt: skip
    for line in f.sender_lines:
        print("  sender:", line)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--for-you", type=int, default=0, help="subscribers with an account")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="pf-bench-digest-"))
    url = fresh_pg(args.database_url) if args.database_url else f"sqlite:///{tmp}/paperfeed.db"
    port = free_port()
    env = bench_env(url, tmp, port)
    os.environ.update(env)

    from paperfeed.config import get_settings
    from paperfeed.store.db import get_database

    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    load0 = os.getloadavg()[0]
    seed(db, args.subscribers)
    seed_for_you(db, min(args.for_you, args.subscribers), 14 * 25)
    figures = Figures()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    try:
        run_id = compose(db, settings, figures)
        render_all(db, settings, run_id, figures)
        deliver_all(db, env, args.workers, figures)
        figures.sink_cpu = cpu_seconds(sink.pid)
    finally:
        sink.terminate()
        sink.wait()
    report(DATABASE_NAMES[db.ops.name], args, figures, load0)
    db.dispose()
    if args.database_url:
        drop_pg(url)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
