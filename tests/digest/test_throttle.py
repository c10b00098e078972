"""The send throttle is site-wide: every sender on one database (SQLite or PostgreSQL)
together keeps PAPERFEED_DIGEST_RATE_PER_SECOND and PAPERFEED_DIGEST_RATE_PER_HOUR.

Two senders in threads, each with its own engine (for SQLite, its own lock file descriptor:
to the database they are two processes), on a simulated clock; then two real
``paperfeed digest send`` processes on the real clock."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select

from paperfeed.config import Settings
from paperfeed.digest import deliver
from paperfeed.digest.clock import FakeClock
from paperfeed.store.db import Database
from paperfeed.store.models import DigestDelivery, DigestSendSlot, DigestThrottle
from tests.digest.conftest import SmtpSink, add_confirmed_subscribers, sender_env
from tests.web.conftest import FRIDAY

T0 = dt.datetime(2025, 3, 8, 6, 0)
HOUR = dt.timedelta(hours=1)
PAPERFEED = str(Path(sys.executable).with_name("paperfeed"))


class SimClock(FakeClock):
    """Virtual time shared by threads: ``sleep`` blocks until every running thread sleeps
    (or has left), then time jumps to the earliest wake-up. While any thread works (a
    transaction, an SMTP exchange) time stands still, so outcomes depend on the rules, not
    on how fast the machine is."""

    def __init__(self, start: dt.datetime, threads: int) -> None:
        super().__init__(start)
        self.cond = threading.Condition()
        self.running = threads
        self.asleep: dict[int, dt.datetime] = {}

    def now(self) -> dt.datetime:
        with self.cond:
            return self._now

    def monotonic(self) -> float:
        with self.cond:
            return self._mono

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        me = threading.get_ident()
        with self.cond:
            self.slept.append(seconds)
            self.asleep[me] = self._now + dt.timedelta(seconds=seconds)
            self.running -= 1
            self._advance()
            while me in self.asleep:
                assert self.cond.wait(timeout=60), "simulation stuck"

    def leave(self) -> None:
        with self.cond:
            self.running -= 1
            self._advance()

    def _advance(self) -> None:
        if self.running or not self.asleep:
            return
        target = min(self.asleep.values())
        self._mono += (target - self._now).total_seconds()
        self._now = target
        for ident, wake in list(self.asleep.items()):
            if wake <= target:
                del self.asleep[ident]
                self.running += 1
        self.cond.notify_all()


def _send_in_threads(
    settings: Settings, db: Database, clock: SimClock, run_id: int, busy: float
) -> list[tuple[dt.datetime, str]]:
    """Two senders, each on its own Database (engine, pool, lock fd), send the run together;
    each message keeps its sender busy for ``busy`` simulated seconds (a slow relay), so
    both get their turns. Returns (claim time, sender id) of every message."""
    claims: list[tuple[dt.datetime, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    dbs = [Database(db.url) for _ in range(2)]

    def work(own: Database) -> None:
        try:
            sender = deliver.Sender(own, settings, clock, rng=random.Random(1))

            def on_claim(claim: deliver.Claim, sender_id: str = sender.id) -> None:
                with lock:
                    claims.append((clock.now(), sender_id))
                clock.sleep(busy)

            sender.on_claim = on_claim
            sender.register()
            try:
                sender.send_runs([run_id])
            finally:
                sender.unregister()
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            clock.leave()

    threads = [threading.Thread(target=work, args=(own,)) for own in dbs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a sender did not finish"
    finally:
        for own in dbs:
            own.dispose()
    if errors:
        raise errors[0]
    return sorted(claims)


def _capped(settings: Settings, per_second: float, per_hour: int) -> Settings:
    return settings.model_copy(
        update={"digest_rate_per_second": per_second, "digest_rate_per_hour": per_hour}
    )


def test_hourly_cap_is_shared_by_two_senders(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    """Cap 4 an hour, 10 recipients, two senders each taking a minute per message: 4
    messages in the first hour of the simulated clock, 4 in the second, 2 in the third; the
    others wait for the window to roll over, with nothing claimed."""
    s = _capped(digest_settings, 0, 4)
    add_confirmed_subscribers(digest_db, 10, T0)
    clock = SimClock(T0, threads=2)
    run = deliver.create_run(digest_db, s, "daily", FRIDAY, clock)
    claims = _send_in_threads(s, digest_db, clock, run.id, busy=60)
    minute = dt.timedelta(minutes=1)
    pairs = [T0, T0 + minute, T0 + HOUR, T0 + HOUR + minute, T0 + 2 * HOUR]
    assert [at for at, _ in claims] == [at for at in pairs for _ in range(2)]
    assert collections.Counter((at - T0) // HOUR for at, _ in claims) == {0: 4, 1: 4, 2: 2}
    assert sorted(collections.Counter(who for _, who in claims).values()) == [5, 5]  # both sent
    received = collections.Counter(m["To"] for m in smtp_sink.messages)
    assert len(received) == 10 and max(received.values()) == 1
    with digest_db.read() as session:
        assert session.scalar(select(DigestThrottle.seq)) == 10
        # Slots taken an hour or more before the last one are pruned.
        slots = session.scalars(select(DigestSendSlot.at).order_by(DigestSendSlot.seq)).all()
        assert slots == [T0 + HOUR + minute] * 2 + [T0 + 2 * HOUR] * 2
        statuses = session.scalars(select(DigestDelivery.status)).all()
        assert collections.Counter(statuses) == {"sent": 10}


def test_per_second_cap_is_shared_by_two_senders(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    """2 a second over both senders, each taking 0.7 s per message: one message every half
    second, the senders taking turns (each counting alone would send together at once)."""
    s = _capped(digest_settings, 2.0, 0)
    add_confirmed_subscribers(digest_db, 8, T0)
    clock = SimClock(T0, threads=2)
    run = deliver.create_run(digest_db, s, "daily", FRIDAY, clock)
    claims = _send_in_threads(s, digest_db, clock, run.id, busy=0.7)
    assert [at for at, _ in claims] == [T0 + dt.timedelta(seconds=0.5 * i) for i in range(8)]
    senders = [sender for _, sender in claims]
    assert all(a != b for a, b in itertools.pairwise(senders))  # turns: both sent
    assert len(smtp_sink.messages) == 8
    with digest_db.read() as session:
        # Without an hourly cap no slot rows are kept: the throttle row says it all.
        assert session.scalar(select(func.count()).select_from(DigestSendSlot)) == 0
        assert session.execute(select(DigestThrottle.seq, DigestThrottle.last_at)).one() == (
            8,
            T0 + dt.timedelta(seconds=3.5),
        )


def test_both_caps_and_no_wait(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    """One sender, then another: the second finds the hour used up by the first and (not
    waiting) returns with the time of the next slot; nothing is claimed meanwhile."""
    s = _capped(digest_settings, 2.0, 3)
    add_confirmed_subscribers(digest_db, 5, T0)
    clock = FakeClock(T0)
    run = deliver.create_run(digest_db, s, "daily", FRIDAY, clock)
    first = deliver.Sender(digest_db, s, clock)
    first.register()
    stats = first.send_runs([run.id], wait=False)
    first.unregister()
    assert stats.sent == 3 and stats.throttled_until == T0 + dt.timedelta(seconds=3600)
    assert clock.slept == [0.5, 0.5]  # the per-second gaps; the hour is not waited for
    other_db = Database(digest_db.url)  # as another process would
    other = deliver.Sender(other_db, s, clock)
    other.register()
    try:
        stats = other.send_runs([run.id], wait=False)
        assert stats.sent == 0 and stats.throttled_until == T0 + dt.timedelta(seconds=3600)
        (r,) = deliver.run_status(digest_db, [run.id])
        assert r.counts == {"sent": 3, "pending": 2}  # nothing claimed while throttled
        clock.advance(3600)
        stats = other.send_runs([run.id], wait=False)
    finally:
        other.unregister()
        other_db.dispose()
    assert stats.sent == 2 and stats.throttled_until is None
    assert len(smtp_sink.messages) == 5


def test_no_cap_adds_no_statement_per_message(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    assert digest_settings.digest_rate_per_second == 0
    assert digest_settings.digest_rate_per_hour == 0
    add_confirmed_subscribers(digest_db, 5, T0)
    clock = FakeClock(T0)
    run = deliver.create_run(digest_db, digest_settings, "daily", FRIDAY, clock)
    sender = deliver.Sender(digest_db, digest_settings, clock)
    sender.register()
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    event.listen(digest_db.engine, "before_cursor_execute", record)
    try:
        stats = sender.send_runs([run.id])
    finally:
        event.remove(digest_db.engine, "before_cursor_execute", record)
        sender.unregister()
    assert stats.sent == 5
    assert statements and not [q for q in statements if "digest_throttle" in q]
    assert not [q for q in statements if "digest_send_slots" in q]


def test_old_slots_are_pruned_when_a_sender_starts(
    digest_settings: Settings, digest_db: Database
) -> None:
    with digest_db.write() as session:
        session.execute(
            insert(DigestSendSlot),
            [{"seq": i, "at": T0 - dt.timedelta(minutes=90 - i)} for i in range(1, 61)],
        )
    sender = deliver.Sender(digest_db, digest_settings, FakeClock(T0))
    sender.register()
    sender.unregister()
    with digest_db.read() as session:
        left = session.scalars(select(DigestSendSlot.seq).order_by(DigestSendSlot.seq)).all()
    assert left == list(range(31, 61))  # the last 30 minutes' slots: still limiting


def _two_processes(args: list[str], env: dict[str, str]) -> list[tuple[int, str]]:
    cmd = [PAPERFEED, "digest", "send", "--period", "daily", "--date", FRIDAY.isoformat()]
    procs = [
        subprocess.Popen(
            cmd + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    out = []
    for p in procs:
        text, _ = p.communicate(timeout=120)
        out.append((p.returncode, text))
    return out


@pytest.mark.slow  # two sender processes
def test_two_processes_share_the_hourly_cap(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    """Two real `digest send --no-wait` processes at once, cap 5 an hour: 5 messages in
    all (each process counting alone would send 10), the rest stays queued."""
    add_confirmed_subscribers(digest_db, 12, T0)
    env = sender_env(
        digest_settings,
        smtp_sink,
        PAPERFEED_DIGEST_RATE_PER_SECOND="0",
        PAPERFEED_DIGEST_RATE_PER_HOUR="5",
    )
    results = _two_processes(["--no-wait"], env)
    for code, text in results:
        assert code == 0, text
        assert "throttled: the next send slot is at" in text, text
    assert len(smtp_sink.messages) == 5
    assert len({m["To"] for m in smtp_sink.messages}) == 5
    (r,) = deliver.run_status(digest_db)
    assert r.counts == {"sent": 5, "pending": 7} and r.status == "sending"


@pytest.mark.slow  # two sender processes
def test_two_processes_share_the_per_second_cap(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    """Two real `digest send` processes at once, 10 a second: the claims of both, in
    time order, are at least 0.1 s apart."""
    add_confirmed_subscribers(digest_db, 40, T0)
    env = sender_env(digest_settings, smtp_sink, PAPERFEED_DIGEST_RATE_PER_SECOND="10")
    for code, text in _two_processes([], env):
        assert code == 0, text
    assert len({m["To"] for m in smtp_sink.messages}) == len(smtp_sink.messages) == 40
    with digest_db.read() as session:
        rows = session.execute(
            select(DigestDelivery.claimed_at, DigestDelivery.claimed_by).order_by(
                DigestDelivery.claimed_at
            )
        ).all()
    times = [at for at, _ in rows]
    assert all(at is not None for at in times)
    gaps = [b - a for a, b in itertools.pairwise(times)]  # type: ignore[operator]
    assert min(gaps) >= dt.timedelta(seconds=0.1), gaps
    assert len({by for _, by in rows}) == 2  # both processes sent
