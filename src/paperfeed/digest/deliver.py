"""Digest runs and the delivery ledger.

A run is unique per (kind, period). Creating it composes every recipient's list and writes
all its delivery rows in one transaction: the recipients are frozen before any mail goes out,
and a crash while composing leaves no run at all.

Each delivery moves ``pending → sending → sent | deferred | failed``. The claim (``sending``,
``claimed_by`` = this process) is committed before the SMTP transaction starts, and the
result of one message is written in the same transaction that claims the next, so there is
one commit per message and at most one row per process in ``sending``. A process that dies
leaves at most that row behind; the next sender (or ``digest status``) finds the process dead
(its pid gone on this host, or no heartbeat for ``PAPERFEED_DIGEST_CLAIM_LEASE_SECONDS``) and
marks the row ``uncertain``: reported, never re-sent automatically. (The opposite of resuming
from a checkpoint advanced on fetch, which silently skips people.) An admin settles uncertain
rows with :func:`resolve_uncertain` (``paperfeed digest resolve``) after checking the relay's log.

Claims: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several senders share a run without
waiting on each other; on SQLite writes are serialised (``BEGIN IMMEDIATE``). The subscriber
must still be ``confirmed`` when its row is claimed, else the row is ``skipped``.

Rate limits are site-wide (``throttle.py``): with a cap set, the claim's transaction first
takes a send slot shared by every sender on the database, or claims nothing and tells the
sender how long to wait. Without caps nothing is added per message.

Failures: 4xx, 552 and connections lost before the end of the message are deferred with
exponential backoff and jitter, until the digest is stale (a day after it was due for daily,
three for weekly): then failed. Other 5xx fail and count as hard bounces (the address is
suppressed after ``PAPERFEED_DIGEST_MAX_HARD_BOUNCES``). ``PAPERFEED_DIGEST_PAUSE_AFTER_FAILURES``
consecutive non-successes pause the run (``digest send --resume`` continues it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.digest import DigestError
from paperfeed.digest.clock import Clock
from paperfeed.digest.compose import (
    SUBSCRIBER_COLUMNS,
    Composer,
    Period,
    content_key,
    next_send_time,
    period_for,
    prepare_search,
    subscriber_row,
)
from paperfeed.digest.render import Recipient, Renderer
from paperfeed.digest.smtp import Outcome, Result, SmtpSender
from paperfeed.digest.subscriptions import ELIGIBLE, record_hard_bounce
from paperfeed.digest.throttle import Throttle
from paperfeed.mail.transport import ConnectFailed
from paperfeed.store.db import Database, retry_if_disconnected
from paperfeed.store.models import (
    DigestContent,
    DigestContentPaper,
    DigestDelivery,
    DigestRun,
    DigestSender,
    Subscriber,
)

log = logging.getLogger(__name__)

STALE_AFTER = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=3)}
OPEN = ("pending", "deferred")
FINAL = ("sent", "failed", "uncertain", "skipped")
HEARTBEAT_SECONDS = 10.0
MAX_CONNECT_FAILURES = 5  # `digest send` gives up after this many failed connections in a row
INSERT_CHUNK = 5000
# With ``wait=False`` (the worker's passes, ``digest send --no-wait``) a sender returns rather
# than wait longer than this for the throttle; the run stays queued.
NO_WAIT_THROTTLE_SECONDS = 60.0
# Before a throttle wait longer than this the SMTP connection is closed (servers drop idle
# sessions after a few minutes); the next message reconnects.
IDLE_CONNECTION_SECONDS = 60.0


# --- runs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    period: Period
    status: str
    created: bool
    recipients: int


def _period_of(run: DigestRun) -> Period:
    return Period(run.kind, run.period_key, run.period_start, run.period_end)


def find_run(db: Database, kind: str, day: dt.date) -> RunInfo | None:
    period = period_for(kind, day)
    with db.read() as session:
        run = session.scalar(
            select(DigestRun).where(DigestRun.kind == kind, DigestRun.period_key == period.key)
        )
        if run is None:
            return None
        n = session.scalar(select(func.count()).where(DigestDelivery.run_id == run.id)) or 0
        return RunInfo(run.id, period, run.status, False, n)


def create_run(
    db: Database,
    settings: Settings,
    kind: str,
    day: dt.date,
    clock: Clock,
    *,
    schedule: bool = False,
) -> RunInfo:
    """The run of ``kind`` for the period holding ``day``: found, or created with all its
    recipients frozen (one transaction). ``schedule``: each delivery is due at the
    subscriber's chosen hour (and weekday) in their zone; otherwise all are due now."""
    found = find_run(db, kind, day)
    if found is not None:
        return found
    period = period_for(kind, day)
    now = clock.now()
    prepare_search(db, settings)  # outside the write transaction: it writes too
    try:
        with db.write() as session:
            # Another process may have made it while we waited for the write lock.
            if session.scalar(
                select(DigestRun.id).where(
                    DigestRun.kind == kind, DigestRun.period_key == period.key
                )
            ):
                raise IntegrityError("run exists", None, Exception())
            run = DigestRun(
                kind=kind,
                period_key=period.key,
                period_start=period.start,
                period_end=period.end,
                status="sending",
                created_at=now,
            )
            session.add(run)
            session.flush()
            n = _freeze(session, db, settings, run.id, period, now, schedule)
            if n == 0:
                run.status = "done"
                run.finished_at = now
            status = run.status
            run_id = run.id
    except IntegrityError:
        again = find_run(db, kind, day)
        assert again is not None
        return again
    log.info("digest run %s %s: %d recipients frozen", kind, period.key, n)
    return RunInfo(run_id, period, status, True, n)


def _freeze(
    session: Session,
    db: Database,
    settings: Settings,
    run_id: int,
    period: Period,
    now: dt.datetime,
    schedule: bool,
) -> int:
    composer = Composer(session, db, settings, period, now)
    subs = [
        subscriber_row(r)
        for r in session.execute(
            select(*SUBSCRIBER_COLUMNS)
            .where(Subscriber.status == ELIGIBLE, Subscriber.period == period.kind)
            .order_by(Subscriber.id)
        )
    ]
    sent = composer.already_sent(composer.candidate_ids(subs), exclude_run=run_id)
    stale = STALE_AFTER[period.kind]
    contents: dict[tuple[int, ...], int] = {}
    due_cache: dict[tuple[str, int, int], dt.datetime] = {}
    rows: list[dict[str, Any]] = []
    written = 0
    empty: frozenset[int] = frozenset()
    for sub in subs:
        papers = composer.papers_for(sub, sent.get(sub.id, empty))
        if not papers:
            continue  # empty digests are not sent
        cid = contents.get(papers)
        if cid is None:
            content = DigestContent(run_id=run_id, key=content_key(papers), paper_ids=list(papers))
            session.add(content)
            session.flush()
            session.execute(
                insert(DigestContentPaper),
                [{"content_id": content.id, "paper_id": p} for p in papers],
            )
            cid = contents[papers] = content.id
        if schedule:
            slot = (sub.timezone, sub.send_hour, sub.send_weekday)
            due = due_cache.get(slot)
            if due is None:
                due = due_cache[slot] = next_send_time(now, period.kind, *slot)
        else:
            due = now
        rows.append(
            {
                "run_id": run_id,
                "subscriber_id": sub.id,
                "content_id": cid,
                "email": sub.email,
                "status": "pending",
                "due_at": due,
                "next_attempt_at": due,
                "give_up_at": due + stale,
                "attempts": 0,
                "updated_at": now,
            }
        )
        if len(rows) >= INSERT_CHUNK:
            session.execute(insert(DigestDelivery), rows)
            written += len(rows)
            rows = []
    if rows:
        session.execute(insert(DigestDelivery), rows)
        written += len(rows)
    return written


def resume_run(db: Database, run_id: int) -> None:
    with db.write() as session:
        session.execute(
            update(DigestRun)
            .where(DigestRun.id == run_id, DigestRun.status == "paused")
            .values(status="sending", consecutive_failures=0, paused_reason=None)
        )


# --- senders and recovery ------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(db: Database, settings: Settings, clock: Clock, me: str | None = None) -> int:
    """Mark the in-flight claims of dead senders ``uncertain``; forget those senders.
    Returns how many deliveries became uncertain."""
    now = clock.now()
    host = socket.gethostname()
    lease = dt.timedelta(seconds=settings.digest_claim_lease_seconds)
    with db.read() as session:
        senders = session.execute(
            select(DigestSender.id, DigestSender.host, DigestSender.pid, DigestSender.heartbeat_at)
        ).all()
    dead = [
        sid
        for sid, shost, pid, beat in senders
        if sid != me and ((shost == host and not _pid_alive(pid)) or beat < now - lease)
    ]
    if not dead:
        return 0
    with db.write() as session:
        result: Any = session.execute(
            update(DigestDelivery)
            .where(DigestDelivery.status == "sending", DigestDelivery.claimed_by.in_(dead))
            .values(
                status="uncertain",
                updated_at=now,
                last_error="the sender died during the SMTP transaction: outcome unknown, "
                "not re-sent automatically",
            )
        )
        session.execute(delete(DigestSender).where(DigestSender.id.in_(dead)))
        n = int(result.rowcount or 0)
    if n:
        log.warning("%d deliveries left in sending by dead senders are now uncertain", n)
    return n


# --- resolving uncertain deliveries ------------------------------------------------------------

RESOLUTIONS = ("sent", "failed", "retry")


@dataclass(frozen=True, slots=True)
class Resolved:
    run_id: int
    resolution: str
    run_status: str  # after the change: a paused run sends nothing until it is resumed
    emails: list[str]  # the deliveries changed
    not_uncertain: list[tuple[str, str | None]]  # asked for, but (their status) not uncertain


def resolve_uncertain(
    db: Database,
    run_id: int,
    resolution: str,
    clock: Clock,
    emails: Iterable[str] | None = None,
) -> Resolved:
    """Settle the ``uncertain`` deliveries of a run (all, or those to ``emails``) after an
    admin checked the relay's log: ``sent`` (it went out), ``failed`` (it did not; its papers
    may be sent in a later digest) or ``retry`` (back to ``pending``, due now, with a fresh
    give-up time; a finished run is reopened so the next ``digest send`` or worker pass sends
    them). Only rows still ``uncertain`` change. Logged, and noted in each row's
    ``last_error``."""
    if resolution not in RESOLUTIONS:
        raise DigestError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    now = clock.now()
    d = DigestDelivery
    wanted = None if emails is None else sorted({e.strip().lower() for e in emails})
    with db.write() as session:
        run = session.get(DigestRun, run_id)
        if run is None:
            raise DigestError(f"no run {run_id}")
        where = [d.run_id == run_id, d.status == "uncertain"]
        if wanted is not None:
            where.append(d.email.in_(wanted))
        rows = session.execute(select(d.id, d.email).where(*where).order_by(d.id)).all()
        ids = [r.id for r in rows]
        note = f"was uncertain; resolved as {resolution} by an admin at {now:%Y-%m-%d %H:%M:%S}"
        values: dict[str, Any] = {"updated_at": now, "last_error": note}
        if resolution == "sent":
            values.update(status="sent", sent_at=func.coalesce(d.claimed_at, now))
        elif resolution == "failed":
            values.update(status="failed")
        else:
            give_up = now + STALE_AFTER[run.kind]
            values.update(
                status="pending",
                next_attempt_at=now,
                give_up_at=case((d.give_up_at < give_up, give_up), else_=d.give_up_at),
                claimed_by=None,
                claimed_at=None,
            )
        for i in range(0, len(ids), 500):
            session.execute(
                update(d)
                .where(d.id.in_(ids[i : i + 500]), d.status == "uncertain")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if resolution == "retry" and ids and run.status == "done":
            run.status = "sending"
            run.finished_at = None
        missing: list[tuple[str, str | None]] = []
        if wanted is not None:
            found = {r.email for r in rows}
            statuses = dict(
                session.execute(
                    select(d.email, d.status).where(
                        d.run_id == run_id, d.email.in_([e for e in wanted if e not in found])
                    )
                ).all()
            )
            missing = [(e, statuses.get(e)) for e in wanted if e not in found]
        run_state = run.status
    changed = [r.email for r in rows]
    if changed:
        log.warning(
            "digest run %d: %d uncertain deliveries resolved as %s by an admin: %s",
            run_id,
            len(changed),
            resolution,
            ", ".join(changed[:20]) + (" …" if len(changed) > 20 else ""),
        )
    return Resolved(run_id, resolution, run_state, changed, missing)


# --- sending ----------------------------------------------------------------------------------


@dataclass(slots=True)
class SendStats:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: int = 0
    recovered_uncertain: int = 0
    connect_failed: bool = False
    paused: list[int] = field(default_factory=list)
    render_seconds: float = 0.0
    smtp_seconds: float = 0.0
    # Set when the last ``send_runs(wait=False)`` returned because the throttle's next slot
    # was further away than NO_WAIT_THROTTLE_SECONDS: its time.
    throttled_until: dt.datetime | None = None

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    run_id: int
    subscriber_id: int
    email: str
    content_id: int
    attempts: int
    give_up_at: dt.datetime


class Sender:
    """One sending process: claims deliveries one at a time and sends them."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock | None = None,
        smtp: SmtpSender | None = None,
        rng: random.Random | None = None,
        on_claim: Callable[[Claim], None] | None = None,
    ) -> None:
        self.db, self.settings = db, settings
        self.clock = clock or Clock()
        self.smtp = smtp or SmtpSender(settings)
        self.rng = rng or random.Random()
        self.renderer = Renderer(db, settings)
        self.throttle = Throttle(db, settings.digest_rate_per_second, settings.digest_rate_per_hour)
        self.id = str(uuid.uuid4())
        self.on_claim = on_claim
        self._periods: dict[int, Period] = {}
        self._contents: dict[int, list[int]] = {}
        self._last_beat = -1e9
        self._statements: dict[str, tuple[Any, Any]] = {}
        self.stats = SendStats()

    # --- lifecycle
    def register(self) -> None:
        now = self.clock.now()
        with self.db.write() as session:
            session.add(
                DigestSender(
                    id=self.id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                )
            )
            self.throttle.prune(session.connection(), now)
        self._last_beat = self.clock.monotonic()
        self.stats.recovered_uncertain += recover(self.db, self.settings, self.clock, self.id)

    def unregister(self) -> None:
        self.smtp.close()
        with self.db.write() as session:
            session.execute(delete(DigestSender).where(DigestSender.id == self.id))

    # --- the loop
    def send_runs(self, run_ids: Iterable[int] | None = None, *, wait: bool = True) -> SendStats:
        """Send what is due in ``run_ids`` (None: every run that is sending) until nothing
        is left to claim. ``wait``: also wait for deferred retries until the runs finish
        or pause; otherwise return when only future retries are left."""
        ids = list(run_ids) if run_ids is not None else None
        pending: tuple[Claim, Result] | None = None
        self._last_beat = -1e9  # beat (and re-register if needed) before the first claim
        self.stats.throttled_until = None
        connect_failures = 0
        try:
            while True:
                try:
                    self.smtp.ensure()
                except ConnectFailed as exc:
                    if pending is not None:
                        self._finish(pending, ids, claim_next=False)
                        pending = None
                    log.warning("%s", exc)
                    connect_failures += 1
                    if not wait or connect_failures >= MAX_CONNECT_FAILURES:
                        log.error("SMTP server unreachable; stopping (the run stays queued)")
                        self.stats.connect_failed = True
                        break
                    self.clock.sleep(min(30.0, self.settings.digest_retry_base_seconds))
                    continue
                connect_failures = 0
                claim, until = self._finish(pending, ids)
                pending = None
                if until is not None:
                    # Throttled. Nothing is claimed while we wait: a crash while waiting
                    # leaves no unsent row uncertain.
                    delay = (until - self.clock.now()).total_seconds()
                    if not wait and delay > NO_WAIT_THROTTLE_SECONDS:
                        self.stats.throttled_until = until
                        break
                    if delay > IDLE_CONNECTION_SECONDS:
                        self.smtp.close()  # relays drop idle sessions; reconnect afterwards
                    self.clock.sleep(delay)
                    continue
                if claim is None:
                    nxt = self._next_retry(ids)
                    if nxt is None or not wait:
                        break
                    self.clock.sleep(max(0.05, (nxt - self.clock.now()).total_seconds()))
                    continue
                if self.on_claim is not None:
                    self.on_claim(claim)
                pending = (claim, self._send(claim))
        finally:
            if pending is not None:
                self._finish(pending, ids, claim_next=False)
        return self.stats

    def _send(self, claim: Claim) -> Result:
        period = self._periods[claim.run_id]
        papers = self._contents[claim.content_id]
        t0 = self.clock.monotonic()

        def render() -> Any:  # reads only, before any SMTP: safe to do again
            content = self.renderer.content(period, claim.content_id, papers)
            return self.renderer.message(
                content,
                Recipient(claim.subscriber_id, claim.email),
                claim.run_id,
                period,
                self.clock.now(),
            )

        data = retry_if_disconnected(render, "digest render")
        t1 = self.clock.monotonic()
        result = self.smtp.send(self.settings.mail_from, claim.email, data)
        self.stats.render_seconds += t1 - t0
        self.stats.smtp_seconds += self.clock.monotonic() - t1
        return result

    def _finish(
        self,
        done: tuple[Claim, Result] | None,
        run_ids: list[int] | None,
        claim_next: bool = True,
    ) -> tuple[Claim | None, dt.datetime | None]:
        """Record ``done``'s result and, unless ``claim_next`` is false, claim the next
        delivery, in one transaction (committed before the caller talks SMTP). Returns the
        claim, or, when the throttle allows no message yet but one is due, no claim and the
        time of the next send slot.

        A lost connection (a terminated PostgreSQL backend) is tried once more on a new one.
        The lost transaction may have committed or not: the retry asks the ledger first
        (:meth:`_finish_again`), so a result is never recorded twice and a claimed row is
        never left behind or claimed again."""
        before = dataclasses.replace(self.stats, paused=list(self.stats.paused))
        attempts = 0

        def attempt() -> tuple[Claim | None, dt.datetime | None]:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                return self._finish_once(done, run_ids, claim_next)
            return self._finish_again(done, run_ids, claim_next, before)

        return retry_if_disconnected(attempt, "digest send")

    def _finish_again(
        self,
        done: tuple[Claim, Result] | None,
        run_ids: list[int] | None,
        claim_next: bool,
        before: SendStats,
    ) -> tuple[Claim | None, dt.datetime | None]:
        """``_finish`` after its connection was lost. Had the lost transaction committed,
        ``done`` is no longer ``sending`` under this sender and the row it claimed (if any)
        is: that claim is carried on. Had it not, everything is done again (with the counts
        as they were before it)."""
        d = DigestDelivery
        with self.db.read() as session:
            held = session.execute(
                select(
                    d.id, d.run_id, d.subscriber_id, d.email, d.content_id, d.attempts, d.give_up_at
                ).where(d.status == "sending", d.claimed_by == self.id)
            ).all()
            recorded = done is None or all(row.id != done[0].id for row in held)
            mine = [row for row in held if done is None or row.id != done[0].id]
            if recorded and mine and claim_next:
                claim = Claim(*mine[0])
                self._load(session.connection(), claim)
                return claim, None
        if not recorded or not mine:
            if not recorded:
                self.stats = before
            return self._finish_once(None if recorded else done, run_ids, claim_next)
        return None, None  # committed, nothing more wanted

    def _finish_once(
        self,
        done: tuple[Claim, Result] | None,
        run_ids: list[int] | None,
        claim_next: bool,
    ) -> tuple[Claim | None, dt.datetime | None]:
        now = self.clock.now()
        with self.db.write() as session:
            conn = session.connection()  # Core statements: less overhead per message
            slot = None
            if claim_next and self.throttle.active:
                # First: the throttle's lock is the first every sender takes (no deadlocks).
                slot = self.throttle.next_slot(conn, now)
            if done is not None:
                self._record(conn, *done, now)
            if self.clock.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
                self._beat(conn, now)
            if not claim_next:
                return None, None
            if slot is None:
                return self._claim(conn, run_ids, now), None
            if slot.at > now:
                # No slot yet: claim nothing, and only wait for one if something is due.
                due = self._claim(conn, run_ids, now, take=False) is not None
                return None, (slot.at if due else None)
            claim = self._claim(conn, run_ids, now)
            if claim is not None:
                self.throttle.take(conn, slot, now)
            return claim, None

    def _beat(self, conn: Any, now: dt.datetime) -> None:
        """Heartbeat. An idle sender may have been taken for dead by another host (and its
        row deleted): it registers again before it claims anything."""
        result = conn.execute(
            update(DigestSender).where(DigestSender.id == self.id).values(heartbeat_at=now)
        )
        if not result.rowcount:
            conn.execute(
                insert(DigestSender).values(
                    id=self.id,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                )
            )
        self._last_beat = self.clock.monotonic()

    def _claim_statements(self, filtered: bool, status: str) -> tuple[Any, Any]:
        """The claim's SELECT and UPDATE, built once (statement building is most of the CPU
        a message costs otherwise). One status at a time, so the SELECT walks an index
        (``ix_digest_deliveries_queue`` or ``_due``) in order instead of sorting the queue."""
        key = f"claim_{'filtered' if filtered else 'all'}_{status}"
        found = self._statements.get(key)
        if found is None:
            d = DigestDelivery
            stmt = (
                select(
                    d.id,
                    d.run_id,
                    d.subscriber_id,
                    d.email,
                    d.content_id,
                    d.attempts,
                    d.give_up_at,
                    Subscriber.status.label("subscriber_status"),
                )
                .join(DigestRun, DigestRun.id == d.run_id)
                .join(Subscriber, Subscriber.id == d.subscriber_id)
                .where(
                    DigestRun.status == "sending",
                    d.status == status,
                    d.next_attempt_at <= bindparam("b_now"),
                )
                .order_by(d.next_attempt_at, d.id)
                .limit(1)
            )
            if filtered:
                stmt = stmt.where(d.run_id.in_(bindparam("b_runs", expanding=True)))
            if not self.db.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True, of=d)
            claim = (
                update(d)
                .where(d.id == bindparam("b_id"))
                .values(
                    status="sending",
                    claimed_by=bindparam("b_me"),
                    claimed_at=bindparam("b_now"),
                    attempts=d.attempts + 1,
                    updated_at=bindparam("b_now"),
                )
            )
            found = self._statements[key] = (stmt, claim)
        return found

    def _claim(
        self, conn: Any, run_ids: list[int] | None, now: dt.datetime, take: bool = True
    ) -> Claim | None:
        """Claim the next due delivery (skipping or failing the rows it passes that can no
        longer be sent). ``take=False``: the delivery it would claim, left unclaimed."""
        params: dict[str, Any] = {"b_now": now}
        if run_ids is not None:
            params["b_runs"] = run_ids
        for _ in range(100):  # skip past rows whose address is no longer eligible
            for status_ in OPEN:
                select_next, claim_row = self._claim_statements(run_ids is not None, status_)
                row = conn.execute(select_next, params).first()
                if row is not None:
                    break
            if row is None:
                self._close_finished_runs(conn, run_ids, now)
                return None
            status = row.subscriber_status
            if status != ELIGIBLE:
                conn.execute(
                    update(DigestDelivery)
                    .where(DigestDelivery.id == row.id)
                    .values(status="skipped", updated_at=now, last_error=f"address {status}")
                )
                self.stats.skipped += 1
                continue
            if row.give_up_at <= now:
                conn.execute(
                    update(DigestDelivery)
                    .where(DigestDelivery.id == row.id)
                    .values(status="failed", updated_at=now, last_error="stale: not sent in time")
                )
                self.stats.failed += 1
                continue
            if take:
                conn.execute(claim_row, {"b_id": row.id, "b_me": self.id, "b_now": now})
            claim = Claim(
                row.id,
                row.run_id,
                row.subscriber_id,
                row.email,
                row.content_id,
                row.attempts + 1,
                row.give_up_at,
            )
            if take:
                self._load(conn, claim)
            return claim
        return None

    def _load(self, conn: Any, claim: Claim) -> None:
        if claim.run_id not in self._periods:
            run = conn.execute(
                select(
                    DigestRun.kind,
                    DigestRun.period_key,
                    DigestRun.period_start,
                    DigestRun.period_end,
                ).where(DigestRun.id == claim.run_id)
            ).one()
            self._periods[claim.run_id] = Period(*run)
        if claim.content_id not in self._contents:
            ids = conn.scalar(
                select(DigestContent.paper_ids).where(DigestContent.id == claim.content_id)
            )
            self._contents[claim.content_id] = list(ids or [])

    def _record(self, conn: Any, claim: Claim, result: Result, now: dt.datetime) -> None:
        values: dict[str, Any] = {
            "updated_at": now,
            "last_code": result.code,
            "last_error": result.detail,
        }
        outcome = result.outcome
        if outcome is Outcome.SENT:
            sent, reset = self._sent_statements()
            conn.execute(
                sent,
                {"b_id": claim.id, "b_me": self.id, "b_now": now, "b_code": result.code},
            )
            conn.execute(reset, {"b_run": claim.run_id})
            self.stats.sent += 1
            return
        if outcome is Outcome.DEFERRED:
            base = self.settings.digest_retry_base_seconds
            delay = min(base * 2 ** (claim.attempts - 1), self.settings.digest_retry_max_seconds)
            delay *= self.rng.uniform(0.5, 1.0)  # jitter: retries of one outage spread out
            retry_at = now + dt.timedelta(seconds=delay)
            if retry_at >= claim.give_up_at:
                outcome = Outcome.FAILED
                values.update(
                    status="failed",
                    last_error=f"gave up (stale) after {claim.attempts} attempts: {result.detail}",
                )
            else:
                values.update(status="deferred", next_attempt_at=retry_at)
        elif outcome is Outcome.FAILED:
            values.update(status="failed")
            if record_hard_bounce(conn, claim.subscriber_id, self.settings):
                log.warning("%s suppressed after hard bounces", claim.email)
        else:
            values.update(status="uncertain")
        conn.execute(
            update(DigestDelivery)
            .where(DigestDelivery.id == claim.id, DigestDelivery.claimed_by == self.id)
            .values(**values)
        )
        self.stats.count(outcome)
        run = DigestRun.__table__.c
        if outcome is Outcome.SENT:
            conn.execute(
                update(DigestRun)
                .where(run.id == claim.run_id, run.consecutive_failures != 0)
                .values(consecutive_failures=0)
            )
            return
        conn.execute(
            update(DigestRun)
            .where(run.id == claim.run_id)
            .values(consecutive_failures=run.consecutive_failures + 1)
        )
        limit = self.settings.digest_pause_after_failures
        paused: Any = conn.execute(
            update(DigestRun)
            .where(
                run.id == claim.run_id,
                run.status == "sending",
                run.consecutive_failures >= limit,
            )
            .values(
                status="paused",
                paused_reason=f"{limit} consecutive failures; last: {result.detail}",
            )
        )
        if paused.rowcount:
            log.error("digest run %d paused after %d consecutive failures", claim.run_id, limit)
            self.stats.paused.append(claim.run_id)

    def _sent_statements(self) -> tuple[Any, Any]:
        found = self._statements.get("sent")
        if found is None:
            d, r = DigestDelivery, DigestRun
            sent = (
                update(d)
                .where(d.id == bindparam("b_id"), d.claimed_by == bindparam("b_me"))
                .values(
                    status="sent",
                    sent_at=bindparam("b_now"),
                    updated_at=bindparam("b_now"),
                    last_code=bindparam("b_code"),
                    last_error=None,
                )
            )
            reset = (
                update(r)
                .where(r.id == bindparam("b_run"), r.consecutive_failures != 0)
                .values(consecutive_failures=0)
            )
            found = self._statements["sent"] = (sent, reset)
        return found

    def _close_finished_runs(self, conn: Any, run_ids: list[int] | None, now: dt.datetime) -> None:
        stmt = select(DigestRun.id).where(DigestRun.status == "sending")
        if run_ids is not None:
            stmt = stmt.where(DigestRun.id.in_(run_ids))
        for rid in conn.scalars(stmt).all():
            busy = conn.scalar(
                select(DigestDelivery.id)
                .where(
                    DigestDelivery.run_id == rid,
                    DigestDelivery.status.in_((*OPEN, "sending")),
                )
                .limit(1)
            )
            if busy is None:
                conn.execute(
                    update(DigestRun)
                    .where(DigestRun.id == rid, DigestRun.status == "sending")
                    .values(status="done", finished_at=now)
                )

    def _next_retry(self, run_ids: list[int] | None) -> dt.datetime | None:
        return retry_if_disconnected(lambda: self._next_retry_once(run_ids), "digest send")

    def _next_retry_once(self, run_ids: list[int] | None) -> dt.datetime | None:
        with self.db.read() as session:
            stmt = (
                select(func.min(DigestDelivery.next_attempt_at))
                .join(DigestRun, DigestRun.id == DigestDelivery.run_id)
                .where(DigestRun.status == "sending", DigestDelivery.status.in_(OPEN))
            )
            if run_ids is not None:
                stmt = stmt.where(DigestDelivery.run_id.in_(run_ids))
            found: dt.datetime | None = session.scalar(stmt)
            return found


# --- reporting ------------------------------------------------------------------------------


@dataclass(slots=True)
class RunStatus:
    id: int
    kind: str
    period_key: str
    status: str
    paused_reason: str | None
    counts: dict[str, int]
    uncertain: list[tuple[str, dt.datetime | None]]
    failures: list[tuple[str, int | None, str | None]]


def run_status(db: Database, run_ids: list[int] | None = None, limit: int = 20) -> list[RunStatus]:
    with db.read() as session:
        stmt = select(DigestRun).order_by(DigestRun.id.desc())
        stmt = stmt.where(DigestRun.id.in_(run_ids)) if run_ids is not None else stmt.limit(limit)
        out: list[RunStatus] = []
        for run in session.scalars(stmt).all():
            counts = {
                status: n
                for status, n in session.execute(
                    select(DigestDelivery.status, func.count())
                    .where(DigestDelivery.run_id == run.id)
                    .group_by(DigestDelivery.status)
                )
            }
            uncertain = [
                (e, at)
                for e, at in session.execute(
                    select(DigestDelivery.email, DigestDelivery.claimed_at)
                    .where(DigestDelivery.run_id == run.id, DigestDelivery.status == "uncertain")
                    .order_by(DigestDelivery.id)
                )
            ]
            failures = [
                (e, c, m)
                for e, c, m in session.execute(
                    select(
                        DigestDelivery.email, DigestDelivery.last_code, DigestDelivery.last_error
                    )
                    .where(DigestDelivery.run_id == run.id, DigestDelivery.status == "failed")
                    .order_by(DigestDelivery.id)
                    .limit(50)
                )
            ]
            out.append(
                RunStatus(
                    run.id,
                    run.kind,
                    run.period_key,
                    run.status,
                    run.paused_reason,
                    counts,
                    uncertain,
                    failures,
                )
            )
        return out
