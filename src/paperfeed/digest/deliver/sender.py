"""One sending process: claims deliveries one at a time, renders and sends them.

The claim (``sending``, ``claimed_by`` = this process) is committed before the SMTP
transaction starts, and the result of one message is written in the same transaction that
claims the next, so there is one commit per message and at most one row per process in
``sending``. A sender registers itself (``digest_senders``) and beats a heartbeat, so that
others can tell when it died (``recovery.py``).

Rate limits are site-wide (``throttle.py``): with a cap set, the claim's transaction first
takes a send slot shared by every sender on the database, or claims nothing and tells the
sender how long to wait. Without caps nothing is added per message.
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
from typing import Any

from sqlalchemy import delete, insert, select, update

from paperfeed.config import Settings
from paperfeed.digest.clock import Clock
from paperfeed.digest.compose import Period
from paperfeed.digest.deliver.ledger import Claim, Ledger, SendStats, next_retry
from paperfeed.digest.deliver.recovery import recover
from paperfeed.digest.render import Recipient, Renderer
from paperfeed.digest.smtp import Result, SmtpSender
from paperfeed.digest.throttle import Throttle
from paperfeed.mail.transport import ConnectFailed
from paperfeed.store.db import Database, retry_if_disconnected
from paperfeed.store.models import DigestContent, DigestRun, DigestSender

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
MAX_CONNECT_FAILURES = 5  # `digest send` gives up after this many failed connections in a row
# With ``wait=False`` (the worker's passes, ``digest send --no-wait``) a sender returns rather
# than wait longer than this for the throttle; the run stays queued.
NO_WAIT_THROTTLE_SECONDS = 60.0
# Before a throttle wait longer than this the SMTP connection is closed (servers drop idle
# sessions after a few minutes); the next message reconnects.
IDLE_CONNECTION_SECONDS = 60.0

# What one transaction of the loop gives back: the claim made, or (throttled) when to try.
Next = tuple[Claim | None, dt.datetime | None]


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
        self.renderer = Renderer(db, settings)
        self.throttle = Throttle(db, settings.digest_rate_per_second, settings.digest_rate_per_hour)
        self.id = str(uuid.uuid4())
        self.ledger = Ledger(db, settings, self.id, rng or random.Random())
        self.on_claim = on_claim
        self._periods: dict[int, Period] = {}
        # content id → its papers and the reasons of its leading For-you papers
        self._contents: dict[int, tuple[list[int], list[str]]] = {}
        self._last_beat = -1e9
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
                    connect_failures += 1
                    if self._connect_failed(exc, connect_failures, wait):
                        continue
                    break
                connect_failures = 0
                claim, go_on = self._claim_or_wait(pending, ids, wait)
                pending = None
                if claim is None:
                    if go_on:
                        continue
                    break
                if self.on_claim is not None:
                    self.on_claim(claim)
                pending = (claim, self._send(claim))
        finally:
            if pending is not None:
                self._finish(pending, ids, claim_next=False)
        return self.stats

    def _claim_or_wait(
        self, pending: tuple[Claim, Result] | None, ids: list[int] | None, wait: bool
    ) -> tuple[Claim | None, bool]:
        """Finish ``pending`` and claim the next message: (claim, True); or nothing to send
        now: (None, True) after waiting for a slot or a retry, (None, False) to stop."""
        claim, until = self._finish(pending, ids)
        if until is not None:
            return None, self._wait_for_slot(until, wait)
        if claim is None:
            return None, self._wait_for_retry(ids, wait)
        return claim, True

    def _connect_failed(self, exc: ConnectFailed, failures: int, wait: bool) -> bool:
        """After a failed connection: True to try again (after a pause), False to stop."""
        log.warning("%s", exc)
        if not wait or failures >= MAX_CONNECT_FAILURES:
            log.error("SMTP server unreachable; stopping (the run stays queued)")
            self.stats.connect_failed = True
            return False
        self.clock.sleep(min(30.0, self.settings.digest_retry_base_seconds))
        return True

    def _wait_for_slot(self, until: dt.datetime, wait: bool) -> bool:
        """Throttled: wait for the next send slot (True), or give up on it (False). Nothing
        is claimed while we wait: a crash while waiting leaves no unsent row uncertain."""
        delay = (until - self.clock.now()).total_seconds()
        if not wait and delay > NO_WAIT_THROTTLE_SECONDS:
            self.stats.throttled_until = until
            return False
        if delay > IDLE_CONNECTION_SECONDS:
            self.smtp.close()  # relays drop idle sessions; reconnect afterwards
        self.clock.sleep(delay)
        return True

    def _wait_for_retry(self, run_ids: list[int] | None, wait: bool) -> bool:
        """Nothing due now: wait for the next retry (True), or stop (False)."""
        nxt = next_retry(self.db, run_ids)
        if nxt is None or not wait:
            return False
        self.clock.sleep(max(0.05, (nxt - self.clock.now()).total_seconds()))
        return True

    def _send(self, claim: Claim) -> Result:
        period = self._periods[claim.run_id]
        papers, reasons = self._contents[claim.content_id]
        t0 = self.clock.monotonic()

        def render() -> Any:  # reads only, before any SMTP: safe to do again
            content = self.renderer.content(period, claim.content_id, papers, reasons)
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

    # --- one transaction per message
    def _finish(
        self,
        done: tuple[Claim, Result] | None,
        run_ids: list[int] | None,
        claim_next: bool = True,
    ) -> Next:
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

        def attempt() -> Next:
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
    ) -> Next:
        """``_finish`` after its connection was lost. Had the lost transaction committed,
        ``done`` is no longer ``sending`` under this sender and the row it claimed (if any)
        is: that claim is carried on. Had it not, everything is done again (with the counts
        as they were before it)."""
        with self.db.read() as session:
            conn = session.connection()
            held = self.ledger.held(conn)
            recorded = done is None or all(row.id != done[0].id for row in held)
            mine = [row for row in held if done is None or row.id != done[0].id]
            if recorded and mine and claim_next:
                self._load(conn, mine[0])
                return mine[0], None
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
    ) -> Next:
        now = self.clock.now()
        with self.db.write() as session:
            conn = session.connection()  # Core statements: less overhead per message
            slot = None
            if claim_next and self.throttle.active:
                # First: the throttle's lock is the first every sender takes (no deadlocks).
                slot = self.throttle.next_slot(conn, now)
            if done is not None:
                self.ledger.record(conn, *done, now, self.stats)
            if self.clock.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
                self._beat(conn, now)
            if not claim_next:
                return None, None
            if slot is None:
                return self._claim(conn, run_ids, now), None
            if slot.at > now:
                # No slot yet: claim nothing, and only wait for one if something is due.
                due = self.ledger.claim(conn, run_ids, now, self.stats, take=False) is not None
                return None, (slot.at if due else None)
            claim = self._claim(conn, run_ids, now)
            if claim is not None:
                self.throttle.take(conn, slot, now)
            return claim, None

    def _claim(self, conn: Any, run_ids: list[int] | None, now: dt.datetime) -> Claim | None:
        claim = self.ledger.claim(conn, run_ids, now, self.stats)
        if claim is not None:
            self._load(conn, claim)
        return claim

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

    def _load(self, conn: Any, claim: Claim) -> None:
        """The claim's period and paper list, read once per run and content."""
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
            ids, reasons = conn.execute(
                select(DigestContent.paper_ids, DigestContent.for_you).where(
                    DigestContent.id == claim.content_id
                )
            ).one()
            self._contents[claim.content_id] = (list(ids or []), list(reasons or []))
