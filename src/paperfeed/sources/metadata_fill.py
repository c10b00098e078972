"""Filling papers' missing arXiv metadata from the arXiv Atom API.

Hugging Face's Daily Papers listings carry no arXiv categories (nor comment, journal ref,
DOI, version). A paper with no categories (``papers.categories_unknown``) matches no
``cat:`` search and no category topic of a digest until this fill has asked arXiv about it.
``paperfeed worker`` runs a bounded fill in each pass, ``paperfeed papers fill-metadata`` on
demand; the callers catch the search indexes up afterwards (this package may not import
``search``).

Politely: ids go to arXiv ``IDS_PER_REQUEST`` at a time through :mod:`sources.atom`'s
client (one request per ``PAPERFEED_ARXIV_REQUEST_INTERVAL``, 3 s by default, process-wide;
bounded retries), at most ``limit`` papers a run, within an optional ``deadline``. What
arXiv gives fills only the fields a paper lacks (:func:`sources.merge.fill_paper`): nothing
a listing said is overwritten. A paper arXiv does not return (or returns without
categories), or whose id arXiv refuses, is recorded in ``metadata_fill_misses`` and not
asked again for a day, then 2, 4, ... up to ``MAX_RETRY_DAYS`` days. A batch arXiv refuses
as a whole (an error entry about one id) is split in halves until the refused id is alone.
A network failure stops the run; what was filled before it stays committed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.papers import categories_unknown
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.sources.atom import (
    ArxivAPIError,
    ArxivOutOfTime,
    ArxivQueryError,
    fetch_arxiv_papers,
)
from paperfeed.sources.batch_store import read_stored, write_plan
from paperfeed.sources.merge import MergePlan, fill_paper
from paperfeed.sources.records import PaperRecord, RecordError, check_record
from paperfeed.store.db import Database
from paperfeed.store.models import MetadataFillMiss, Paper, utcnow

IDS_PER_REQUEST = 100
MAX_RETRY_DAYS = 64
MAX_REASON = 255
NOT_FOUND = "arXiv has no such paper"
NO_CATEGORIES = "arXiv gave no categories"

Candidate = tuple[int, str]  # (paper row id, arXiv id)


@dataclass
class FillStats:
    """What a run did: papers asked about, filled (gained a field), found with nothing to
    fill, missed (recorded, asked again later); ``error`` when arXiv could not be reached,
    ``out_of_time`` when the deadline stopped it."""

    wanted: int = 0
    asked: int = 0
    filled: int = 0
    unchanged: int = 0
    missed: int = 0
    error: str | None = None
    out_of_time: bool = False

    def summary_line(self) -> str:
        return (
            f"asked {self.asked} of {self.wanted}, filled {self.filled}, "
            f"unchanged {self.unchanged}, not found {self.missed}"
        )


Progress = Callable[[FillStats], None]


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Papers lacking categories that have no miss on record, or whose retry time came."""
    return sa.and_(
        categories_unknown(),
        sa.or_(MetadataFillMiss.paper_id.is_(None), MetadataFillMiss.retry_after <= now),
    )


def _due_papers(*columns: Any, now: dt.datetime | None) -> sa.Select[Any]:
    return (
        sa.select(*columns)
        .select_from(Paper)
        .outerjoin(MetadataFillMiss, MetadataFillMiss.paper_id == Paper.id)
        .where(_due(now or utcnow()))
    )


def candidates(db: Database, limit: int, now: dt.datetime | None = None) -> list[Candidate]:
    """Up to ``limit`` papers to ask arXiv about, the newest rows first."""
    stmt = _due_papers(Paper.id, Paper.arxiv_id, now=now).order_by(Paper.id.desc()).limit(limit)
    with db.read() as session:
        return [(row.id, row.arxiv_id) for row in session.execute(stmt)]


def count_due(db: Database, now: dt.datetime | None = None) -> int:
    """How many papers a fill would ask about now (all of them, without a limit)."""
    with db.read() as session:
        return session.scalar(_due_papers(sa.func.count(), now=now)) or 0


def fill_metadata(
    db: Database,
    settings: Settings,
    *,
    limit: int,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> FillStats:
    """Ask arXiv about up to ``limit`` papers lacking categories and fill what they lack,
    one committed batch per request; ``progress`` is called after each batch. Stops early,
    with ``stats.error`` set, when arXiv cannot be reached or ``deadline`` seconds passed."""
    todo = candidates(db, limit)
    stats = FillStats(wanted=len(todo))
    ends = time.monotonic() + deadline if deadline is not None else None
    for start in range(0, len(todo), IDS_PER_REQUEST):
        chunk = todo[start : start + IDS_PER_REQUEST]
        left = ends - time.monotonic() if ends is not None else None
        if left is not None and left <= 0:
            stats.out_of_time = True
            break
        try:
            records, refused = _ask(settings, [arxiv_id for _pid, arxiv_id in chunk], left)
        except ArxivOutOfTime:
            stats.out_of_time = True
            break
        except ArxivAPIError as exc:
            stats.error = str(exc)
            break
        _apply(db, chunk, records, refused, stats)
        if progress is not None:
            progress(stats)
    return stats


def _ask(
    settings: Settings, ids: Sequence[str], left: float | None
) -> tuple[list[PaperRecord], dict[str, str]]:
    """arXiv's records of ``ids``, and the ids it refused (or we cannot ask) with why. A
    refused batch is split in halves until the refused id stands alone."""
    refused: dict[str, str] = {}
    askable = []
    for arxiv_id in ids:
        try:
            parse_arxiv_id(arxiv_id)
        except ValueError as exc:
            refused[arxiv_id] = f"not an arXiv id: {exc}"[:MAX_REASON]
        else:
            askable.append(arxiv_id)
    if not askable:
        return [], refused
    try:
        records = fetch_arxiv_papers(askable, settings, deadline=left, per_request=IDS_PER_REQUEST)
    except ArxivQueryError as exc:
        if len(askable) == 1:
            refused[askable[0]] = str(exc)[:MAX_REASON]
            return [], refused
        half = len(askable) // 2
        first, first_refused = _ask(settings, askable[:half], left)
        second, second_refused = _ask(settings, askable[half:], left)
        return first + second, refused | first_refused | second_refused
    return records, refused


def _apply(
    db: Database,
    chunk: Sequence[Candidate],
    records: Sequence[PaperRecord],
    refused: dict[str, str],
    stats: FillStats,
) -> None:
    """Fill the chunk's papers from ``records`` and record the misses, in one transaction."""
    by_id = {r.arxiv_id: r for r in records}
    now = utcnow()
    with db.write() as session:
        conn = session.connection()
        rows, _entries = read_stored(conn, db.ops, [a for _pid, a in chunk], False)
        changed = []
        for row in rows:
            record = by_id.get(row["arxiv_id"])
            if record is None:
                continue
            try:
                check_record(record)
            except RecordError as exc:
                refused[row["arxiv_id"]] = f"arXiv's record refused: {exc}"[:MAX_REASON]
                continue
            if fill_paper(row, record):
                changed.append(row)
        write_plan(conn, db.ops, MergePlan(changed_papers=changed), now)
        misses = {pid: _miss_reason(arxiv_id, by_id, refused) for pid, arxiv_id in chunk}
        _record_misses(session, db, {p: r for p, r in misses.items() if r is not None}, now)
    stats.asked += len(chunk)
    stats.filled += len(changed)
    stats.missed += sum(1 for r in misses.values() if r is not None)
    stats.unchanged = stats.asked - stats.filled - stats.missed


def _miss_reason(
    arxiv_id: str, found: dict[str, PaperRecord], refused: dict[str, str]
) -> str | None:
    """Why this paper still lacks categories after the batch; None when it has them now."""
    if arxiv_id in refused:
        return refused[arxiv_id]
    record = found.get(arxiv_id)
    if record is None:
        return NOT_FOUND
    if not (record.categories or record.primary_category):
        return NO_CATEGORIES
    return None


def _record_misses(
    session: Session, db: Database, misses: dict[int, str], now: dt.datetime
) -> None:
    """Note each miss: asked again after 1, 2, 4, ... ``MAX_RETRY_DAYS`` days."""
    if not misses:
        return
    table = MetadataFillMiss.__table__
    stmt = sa.select(MetadataFillMiss.paper_id, MetadataFillMiss.attempts).where(
        MetadataFillMiss.paper_id.in_(list(misses))
    )
    before = {paper_id: attempts for paper_id, attempts in session.execute(stmt)}
    for paper_id, reason in misses.items():
        attempts = before.get(paper_id, 0) + 1
        wait = dt.timedelta(days=min(2 ** (attempts - 1), MAX_RETRY_DAYS))
        values = {
            "attempts": attempts,
            "tried_at": now,
            "retry_after": now + wait,
            "reason": reason,
        }
        stmt = db.ops.insert(table).values(paper_id=paper_id, **values)
        session.execute(stmt.on_conflict_do_update(index_elements=["paper_id"], set_=values))
