"""The delivery ledger: one row per recipient of a run, claimed and settled one at a time.

Each delivery moves ``pending → sending → sent | deferred | failed`` (``skipped`` when the
address is no longer confirmed at its claim, ``uncertain`` when the outcome is unknown).
Claims: ``db.ops.skip_locked`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several senders
share a run without waiting on each other; SQLite serialises writes anyway).

Failures: 4xx, 552 and connections lost before the end of the message are deferred with
exponential backoff and jitter, until the digest is stale: then failed. Other 5xx fail and
count as hard bounces (``subscriptions.record_hard_bounce``); every non-success counts
towards pausing the run (``runs.count_failure``).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.sql.expression import Select

from paperfeed.config import Settings
from paperfeed.digest.deliver.runs import (
    OPEN,
    close_finished_runs,
    count_failure,
    reset_failures,
)
from paperfeed.digest.smtp import Outcome, Result
from paperfeed.digest.subscriptions.subscribers import ELIGIBLE, record_hard_bounce
from paperfeed.store.db import Database, retry_if_disconnected
from paperfeed.store.models import DigestDelivery, DigestRun, Subscriber

log = logging.getLogger(__name__)

FINAL = ("sent", "failed", "uncertain", "skipped")  # a delivery in these stays there
MAX_SKIPS = 100  # rows settled without sending (address gone, stale) in one claim at most

_d = DigestDelivery
# A claim's columns, in :class:`Claim`'s order.
_CLAIM_COLUMNS = (
    _d.id,
    _d.run_id,
    _d.subscriber_id,
    _d.email,
    _d.content_id,
    _d.attempts,
    _d.give_up_at,
)
# Statements built once: building them is most of the CPU a message costs otherwise.
_TAKE = (
    update(_d)
    .where(_d.id == bindparam("b_id"))
    .values(
        status="sending",
        claimed_by=bindparam("b_me"),
        claimed_at=bindparam("b_now"),
        attempts=_d.attempts + 1,
        updated_at=bindparam("b_now"),
    )
)
_SENT = (
    update(_d)
    .where(_d.id == bindparam("b_id"), _d.claimed_by == bindparam("b_me"))
    .values(
        status="sent",
        sent_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        last_code=bindparam("b_code"),
        last_error=None,
    )
)


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
    # was further away than ``sender.NO_WAIT_THROTTLE_SECONDS``: its time.
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


class Ledger:
    """The delivery rows as one sender sees them. Methods take the Core connection of the
    sender's write transaction and the stats they add to."""

    def __init__(
        self, db: Database, settings: Settings, sender_id: str, rng: random.Random
    ) -> None:
        self.db, self.settings, self.sender_id, self.rng = db, settings, sender_id, rng
        self._next_due: dict[tuple[bool, str], Select[*tuple[Any, ...]]] = {}

    def claim(
        self,
        conn: Any,
        run_ids: list[int] | None,
        now: dt.datetime,
        stats: SendStats,
        take: bool = True,
    ) -> Claim | None:
        """Claim the next due delivery (skipping or failing the rows it passes that can no
        longer be sent). ``take=False``: the delivery it would claim, left unclaimed."""
        params: dict[str, Any] = {"b_now": now}
        if run_ids is not None:
            params["b_runs"] = run_ids
        for _ in range(MAX_SKIPS):
            row = self._first_due(conn, run_ids is not None, params)
            if row is None:
                close_finished_runs(conn, run_ids, now)
                return None
            if self._settled_unsent(conn, row, now, stats):
                continue
            if take:
                conn.execute(_TAKE, {"b_id": row.id, "b_me": self.sender_id, "b_now": now})
            return Claim(
                row.id,
                row.run_id,
                row.subscriber_id,
                row.email,
                row.content_id,
                row.attempts + 1,
                row.give_up_at,
            )
        return None

    def _first_due(self, conn: Any, filtered: bool, params: dict[str, Any]) -> Any:
        for status in OPEN:
            row = conn.execute(self._next_due_statement(filtered, status), params).first()
            if row is not None:
                return row
        return None

    def _next_due_statement(self, filtered: bool, status: str) -> Select[*tuple[Any, ...]]:
        """The next due row of one status, built once per sender. One status at a time, so
        the SELECT walks an index (``ix_digest_deliveries_queue`` or ``_due``) in order
        instead of sorting the queue."""
        found = self._next_due.get((filtered, status))
        if found is None:
            stmt = (
                select(*_CLAIM_COLUMNS, Subscriber.status.label("subscriber_status"))
                .join(DigestRun, DigestRun.id == _d.run_id)
                .join(Subscriber, Subscriber.id == _d.subscriber_id)
                .where(
                    DigestRun.status == "sending",
                    _d.status == status,
                    _d.next_attempt_at <= bindparam("b_now"),
                )
                .order_by(_d.next_attempt_at, _d.id)
                .limit(1)
            )
            if filtered:
                stmt = stmt.where(_d.run_id.in_(bindparam("b_runs", expanding=True)))
            found = self._next_due[(filtered, status)] = self.db.ops.skip_locked(stmt, _d)
        return found

    def _settled_unsent(self, conn: Any, row: Any, now: dt.datetime, stats: SendStats) -> bool:
        """Skip a row whose address is no longer confirmed, fail one past its give-up time.
        True when ``row`` was settled so (not to be sent)."""
        if row.subscriber_status != ELIGIBLE:
            values = {"status": "skipped", "last_error": f"address {row.subscriber_status}"}
            stats.skipped += 1
        elif row.give_up_at <= now:
            values = {"status": "failed", "last_error": "stale: not sent in time"}
            stats.failed += 1
        else:
            return False
        conn.execute(update(_d).where(_d.id == row.id).values(updated_at=now, **values))
        return True

    def held(self, conn: Any) -> list[Claim]:
        """The rows this sender holds in ``sending``."""
        rows = conn.execute(
            select(*_CLAIM_COLUMNS).where(_d.status == "sending", _d.claimed_by == self.sender_id)
        ).all()
        return [Claim(*row) for row in rows]

    def record(
        self, conn: Any, claim: Claim, result: Result, now: dt.datetime, stats: SendStats
    ) -> None:
        """Write the result of ``claim``'s SMTP transaction (and what it means for its
        address and its run)."""
        if result.outcome is Outcome.SENT:
            params = {"b_id": claim.id, "b_me": self.sender_id, "b_now": now}
            conn.execute(_SENT, {**params, "b_code": result.code})
            reset_failures(conn, claim.run_id)
            stats.sent += 1
            return
        outcome, values = self._unsent(conn, claim, result, now)
        conn.execute(
            update(_d).where(_d.id == claim.id, _d.claimed_by == self.sender_id).values(**values)
        )
        stats.count(outcome)
        limit = self.settings.digest_pause_after_failures
        if count_failure(conn, claim.run_id, limit, result.detail):
            log.error("digest run %d paused after %d consecutive failures", claim.run_id, limit)
            stats.paused.append(claim.run_id)

    def _unsent(
        self, conn: Any, claim: Claim, result: Result, now: dt.datetime
    ) -> tuple[Outcome, dict[str, Any]]:
        """The outcome and row values of a message that did not go out: deferred (or failed
        once stale), failed (a hard bounce) or uncertain."""
        values: dict[str, Any] = {
            "updated_at": now,
            "last_code": result.code,
            "last_error": result.detail,
        }
        outcome = result.outcome
        if outcome is Outcome.DEFERRED:
            retry_at = now + dt.timedelta(seconds=self._retry_delay(claim.attempts))
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
        return outcome, values

    def _retry_delay(self, attempts: int) -> float:
        """Exponential backoff with jitter: retries of one outage spread out."""
        base = self.settings.digest_retry_base_seconds
        delay: float = min(base * 2 ** (attempts - 1), self.settings.digest_retry_max_seconds)
        return delay * self.rng.uniform(0.5, 1.0)


def next_retry(db: Database, run_ids: list[int] | None) -> dt.datetime | None:
    """When the first open delivery (of ``run_ids``, or any sending run) is next due."""
    return retry_if_disconnected(lambda: _next_retry_once(db, run_ids), "digest send")


def _next_retry_once(db: Database, run_ids: list[int] | None) -> dt.datetime | None:
    with db.read() as session:
        stmt = (
            select(func.min(_d.next_attempt_at))
            .join(DigestRun, DigestRun.id == _d.run_id)
            .where(DigestRun.status == "sending", _d.status.in_(OPEN))
        )
        if run_ids is not None:
            stmt = stmt.where(_d.run_id.in_(run_ids))
        found: dt.datetime | None = session.scalar(stmt)
        return found
