"""A PostgreSQL backend terminated under ``digest send`` (an admin, a failover, a restart):
the sender goes on over a new connection, every subscriber gets one mail, and the ledger
ends with every row sent (none stuck in ``sending``, none claimed twice)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from paperfeed.config import Settings
from paperfeed.digest import deliver
from paperfeed.digest.clock import FakeClock
from paperfeed.store.db import Database
from paperfeed.store.models import DigestDelivery
from tests.digest.conftest import SmtpSink, add_confirmed_subscribers
from tests.web.conftest import FRIDAY

T0 = dt.datetime(2025, 3, 11, 6, 0)
N = 4


def terminate_other_backends(db: Database) -> int:
    """``pg_terminate_backend`` on every other connection to this database (the pool's)."""
    conninfo = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def send_all(db: Database, settings: Settings, sender: deliver.Sender) -> deliver.SendStats:
    clock = FakeClock(T0)
    run = deliver.create_run(db, settings, "daily", FRIDAY, clock)
    sender.clock = clock
    sender.register()
    try:
        return sender.send_runs([run.id])
    finally:
        sender.unregister()


def assert_each_sent_once(db: Database, sink: SmtpSink) -> None:
    digests = Counter(str(m["To"]) for m in sink.messages if "digest" in (m["List-Id"] or ""))
    assert digests == {f"r{i:04d}@example.org": 1 for i in range(N)}
    with db.read() as session:
        states = dict(
            session.execute(
                select(DigestDelivery.status, func.count()).group_by(DigestDelivery.status)
            ).all()
        )
    assert states == {"sent": N}


def test_a_terminated_backend_does_not_stop_digest_send(
    digest_settings: Settings,
    digest_db: Database,
    smtp_sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if digest_db.is_sqlite:
        pytest.skip("PostgreSQL only: its backends can be terminated")
    add_confirmed_subscribers(digest_db, N, T0 - dt.timedelta(days=30))
    killed: list[int] = []

    def on_claim(claim: deliver.Claim) -> None:
        # Between the claim's commit and the next transaction: the pooled connections die.
        if len(killed) < 2:
            killed.append(terminate_other_backends(digest_db))

    sender = deliver.Sender(digest_db, digest_settings, rng=random.Random(7), on_claim=on_claim)
    stats = send_all(digest_db, digest_settings, sender)
    assert len(killed) == 2 and all(killed)
    # Lost once while rendering the first mail, once in the transaction after the second.
    lost = [r.getMessage().split(":")[0] for r in caplog.records if "was lost" in r.getMessage()]
    assert lost == ["digest render", "digest send"]
    assert stats.sent == N and stats.uncertain == 0
    assert_each_sent_once(digest_db, smtp_sink)


def test_a_connection_lost_after_its_commit_is_not_done_twice(
    digest_settings: Settings,
    digest_db: Database,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worst moment: the transaction that records one mail and claims the next commits,
    and the answer to COMMIT is lost. The retry must carry on with that claim."""
    add_confirmed_subscribers(digest_db, N, T0 - dt.timedelta(days=30))
    real = deliver.Sender._finish_once
    calls = 0

    def committed_then_lost(self: deliver.Sender, *args: Any) -> Any:
        nonlocal calls
        calls += 1
        found = real(self, *args)
        if calls in (2, 3):  # after recording the first mail (and claiming the second)
            orig = psycopg.OperationalError("server closed the connection unexpectedly")
            raise OperationalError("COMMIT", {}, orig, connection_invalidated=True)
        return found

    monkeypatch.setattr(deliver.Sender, "_finish_once", committed_then_lost)
    sender = deliver.Sender(digest_db, digest_settings, rng=random.Random(7))
    stats = send_all(digest_db, digest_settings, sender)
    assert calls > N
    assert stats.sent == N and stats.uncertain == 0
    assert_each_sent_once(digest_db, smtp_sink)
