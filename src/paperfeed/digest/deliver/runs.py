"""Digest runs: created with every recipient frozen, paused after a streak of failures,
resumed by an admin, finished when no delivery is left open.

A run is unique per (kind, period). Creating it composes every recipient's list and writes
all its delivery rows in one transaction: the recipients are frozen before any mail goes out,
and a crash while composing leaves no run at all.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.digest import for_you
from paperfeed.digest.clock import Clock
from paperfeed.digest.compose import (
    SUBSCRIBER_COLUMNS,
    Composer,
    Period,
    SubscriberRow,
    content_key,
    next_send_time,
    period_for,
    prepare_search,
    subscriber_row,
)
from paperfeed.digest.subscriptions.subscribers import ELIGIBLE
from paperfeed.store.counters import count_toward
from paperfeed.store.db import Database
from paperfeed.store.models import (
    DigestContent,
    DigestContentPaper,
    DigestDelivery,
    DigestRun,
    Subscriber,
)

log = logging.getLogger(__name__)

# A delivery not sent this long after it was due is given up: the digest is stale.
STALE_AFTER = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=3)}
OPEN = ("pending", "deferred")  # deliveries still to be sent
INSERT_CHUNK = 5000

_RESET_FAILURES = (
    update(DigestRun)
    .where(DigestRun.id == bindparam("b_run"), DigestRun.consecutive_failures != 0)
    .values(consecutive_failures=0)
)


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    period: Period
    status: str
    created: bool
    recipients: int


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
    with db.read() as session:
        wanted = for_you.readers(session, kind)
    # Recommendations read (and may train) on connections of their own: before the write.
    picks = for_you.gather_picks(db, settings, period, wanted) if wanted else {}
    shown: dict[int, list[int]] = {}
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
            n, shown = _freeze(session, db, settings, run.id, period, now, schedule, picks)
            if n == 0:
                run.status = "done"
                run.finished_at = now
            status = run.status
            run_id = run.id
    except IntegrityError:
        again = find_run(db, kind, day)
        assert again is not None
        return again
    for_you.record_shown(db, shown)
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
    picks: dict[int, for_you.Picks],
) -> tuple[int, dict[int, list[int]]]:
    """Write the run's deliveries (one per subscriber with papers to get): their number, and
    the For-you papers frozen for each reader (user id → paper ids)."""
    composer = Composer(session, db, settings, period, now)
    subs = _eligible(session, period.kind)
    candidates = composer.candidate_ids(subs)
    candidates.update(p for pick in picks.values() for p, _ in pick.ranked)
    sent = composer.already_sent(candidates, exclude_run=run_id)
    content_id = _contents(session, run_id)
    due_at = _due_times(now, period.kind, schedule)
    stale = STALE_AFTER[period.kind]
    rows: list[dict[str, Any]] = []
    written = 0
    shown: dict[int, list[int]] = {}
    empty: frozenset[int] = frozenset()
    for sub in subs:
        pick = picks.get(sub.id)
        got = for_you.compose(composer, sub, sent.get(sub.id, empty), pick)
        if not got.papers:
            continue  # empty digests are not sent
        if pick is not None and got.reasons:
            shown.setdefault(pick.user_id, []).extend(got.papers[: len(got.reasons)])
        due = due_at(sub)
        rows.append(
            {
                "run_id": run_id,
                "subscriber_id": sub.id,
                "content_id": content_id(got.papers, got.reasons),
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
    return written, shown


def _eligible(session: Session, kind: str) -> list[SubscriberRow]:
    return [
        subscriber_row(r)
        for r in session.execute(
            select(*SUBSCRIBER_COLUMNS)
            .where(Subscriber.status == ELIGIBLE, Subscriber.period == kind)
            .order_by(Subscriber.id)
        )
    ]


def _contents(session: Session, run_id: int) -> Callable[[tuple[int, ...], tuple[str, ...]], int]:
    """The content id of a paper list (and its For-you reasons), written once per distinct
    list of the run."""
    contents: dict[tuple[tuple[int, ...], tuple[str, ...]], int] = {}

    def content_id(papers: tuple[int, ...], reasons: tuple[str, ...]) -> int:
        cid = contents.get((papers, reasons))
        if cid is None:
            content = DigestContent(
                run_id=run_id,
                key=content_key(papers, reasons),
                paper_ids=list(papers),
                for_you=list(reasons) if reasons else None,
            )
            session.add(content)
            session.flush()
            session.execute(
                insert(DigestContentPaper),
                [{"content_id": content.id, "paper_id": p} for p in papers],
            )
            cid = contents[(papers, reasons)] = content.id
        return cid

    return content_id


def _due_times(
    now: dt.datetime, kind: str, schedule: bool
) -> Callable[[SubscriberRow], dt.datetime]:
    """When a subscriber's delivery is due: now, or (``schedule``) at their chosen time."""
    if not schedule:
        return lambda sub: now
    cache: dict[tuple[str, int, int], dt.datetime] = {}

    def due_at(sub: SubscriberRow) -> dt.datetime:
        slot = (sub.timezone, sub.send_hour, sub.send_weekday)
        due = cache.get(slot)
        if due is None:
            due = cache[slot] = next_send_time(now, kind, *slot)
        return due

    return due_at


def resume_run(db: Database, run_id: int) -> None:
    with db.write() as session:
        session.execute(
            update(DigestRun)
            .where(DigestRun.id == run_id, DigestRun.status == "paused")
            .values(status="sending", consecutive_failures=0, paused_reason=None)
        )


def reset_failures(conn: Any, run_id: int) -> None:
    """A message went out: the run's streak of failures is over."""
    conn.execute(_RESET_FAILURES, {"b_run": run_id})


def count_failure(conn: Any, run_id: int, limit: int, detail: str) -> bool:
    """One more consecutive non-success; the run pauses at ``limit``. True when it paused."""
    paused = {"status": "paused", "paused_reason": f"{limit} consecutive failures; last: {detail}"}
    sending = DigestRun.status == "sending"
    return count_toward(conn, DigestRun.consecutive_failures, run_id, limit, sending, paused)


def close_finished_runs(conn: Any, run_ids: list[int] | None, now: dt.datetime) -> None:
    """Mark ``done`` the sending runs (of ``run_ids``, or all) with no delivery left open."""
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
