"""Recovery: claims left by senders that died, and the admin's word on them.

A sender that dies leaves at most one row in ``sending``. The next sender (or ``digest
status``) finds it dead (its pid gone on this host, or no heartbeat for
``PAPERFEED_DIGEST_CLAIM_LEASE_SECONDS``) and marks the row ``uncertain``: reported, never
re-sent automatically. (The opposite of resuming from a checkpoint advanced on fetch, which
silently skips people.) An admin settles uncertain rows with :func:`resolve_uncertain`
(``paperfeed digest resolve``) after checking the relay's log.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.digest import DigestError
from paperfeed.digest.clock import Clock
from paperfeed.digest.deliver.runs import STALE_AFTER
from paperfeed.store.db import Database
from paperfeed.store.models import DigestDelivery, DigestRun, DigestSender

log = logging.getLogger(__name__)

RESOLUTIONS = ("sent", "failed", "retry")
UPDATE_CHUNK = 500  # ids per UPDATE when settling many rows


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
        values = _resolution_values(resolution, now, run.kind)
        _settle(session, [r.id for r in rows], values)
        if resolution == "retry" and rows and run.status == "done":
            run.status = "sending"
            run.finished_at = None
        found = {r.email for r in rows}
        missing = [] if wanted is None else _not_uncertain(session, run_id, wanted, found)
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


def _resolution_values(resolution: str, now: dt.datetime, kind: str) -> dict[str, Any]:
    """The row values an uncertain delivery takes when resolved as ``resolution``."""
    d = DigestDelivery
    note = f"was uncertain; resolved as {resolution} by an admin at {now:%Y-%m-%d %H:%M:%S}"
    values: dict[str, Any] = {"updated_at": now, "last_error": note}
    if resolution == "sent":
        values.update(status="sent", sent_at=func.coalesce(d.claimed_at, now))
    elif resolution == "failed":
        values.update(status="failed")
    else:
        give_up = now + STALE_AFTER[kind]
        values.update(
            status="pending",
            next_attempt_at=now,
            give_up_at=case((d.give_up_at < give_up, give_up), else_=d.give_up_at),
            claimed_by=None,
            claimed_at=None,
        )
    return values


def _settle(session: Session, ids: Sequence[int], values: dict[str, Any]) -> None:
    """Apply ``values`` to the rows of ``ids`` that are still uncertain."""
    d = DigestDelivery
    for i in range(0, len(ids), UPDATE_CHUNK):
        session.execute(
            update(d)
            .where(d.id.in_(ids[i : i + UPDATE_CHUNK]), d.status == "uncertain")
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _not_uncertain(
    session: Session, run_id: int, wanted: list[str], found: set[str]
) -> list[tuple[str, str | None]]:
    """The addresses asked for that had no uncertain delivery, with their status (or None
    when the run has no delivery to them)."""
    d = DigestDelivery
    others = [e for e in wanted if e not in found]
    statuses = dict(
        session.execute(
            select(d.email, d.status).where(d.run_id == run_id, d.email.in_(others))
        ).all()
    )
    return [(e, statuses.get(e)) for e in others]
