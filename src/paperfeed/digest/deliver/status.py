"""What ``paperfeed digest status`` and ``digest send`` report about runs: counts by state,
the uncertain deliveries an admin must settle, and the latest failures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.community import page_of
from paperfeed.store.db import Database
from paperfeed.store.models import DigestDelivery, DigestRun

FAILURES_SHOWN = 50


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
    """The runs of ``run_ids``, or the latest ``limit`` runs, newest first."""
    with db.read() as session:
        stmt = select(DigestRun).order_by(DigestRun.id.desc())
        stmt = stmt.where(DigestRun.id.in_(run_ids)) if run_ids is not None else stmt.limit(limit)
        return [_status(session, run) for run in session.scalars(stmt).all()]


def runs_page(db: Database, *, limit: int, offset: int = 0) -> tuple[int, list[RunStatus]]:
    """(how many runs there are, ``limit`` of them newest first from ``offset``)."""
    with db.read() as session:
        total, rows = page_of(
            session, select(DigestRun).order_by(DigestRun.id.desc()), limit, offset
        )
        return total, [_status(session, run) for (run,) in rows]


def _status(session: Session, run: DigestRun) -> RunStatus:
    d = DigestDelivery
    counts = {
        status: n
        for status, n in session.execute(
            select(d.status, func.count()).where(d.run_id == run.id).group_by(d.status)
        )
    }
    uncertain = [
        (e, at)
        for e, at in session.execute(
            select(d.email, d.claimed_at)
            .where(d.run_id == run.id, d.status == "uncertain")
            .order_by(d.id)
        )
    ]
    failures = [
        (e, c, m)
        for e, c, m in session.execute(
            select(d.email, d.last_code, d.last_error)
            .where(d.run_id == run.id, d.status == "failed")
            .order_by(d.id)
            .limit(FAILURES_SHOWN)
        )
    ]
    return RunStatus(
        run.id, run.kind, run.period_key, run.status, run.paused_reason, counts, uncertain, failures
    )
