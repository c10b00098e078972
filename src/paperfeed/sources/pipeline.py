"""One ingest pipeline for every source: batch, merge, upsert.

Records are taken in batches (default 2,000). For each batch, inside one write transaction:
one SELECT of the batch's existing papers (and their daily entries), a merge in Python (in
record order, so a paper seen twice in a batch merges twice: :mod:`paperfeed.sources.merge`
plans it without the database), then ``executemany`` INSERTs for new rows and UPDATEs for
rows that really changed (:mod:`paperfeed.sources.batch_store`). SQLAlchemy Core only, no
ORM objects.

Merge rules (see :func:`paperfeed.sources.merge.merge_paper`):

- version-specific metadata (title, abstract, authors, categories, dates, comment, journal
  ref, DOI, licence, submitter) is overwritten only by a *newer* record: higher version, or
  the same version with a later ``updated`` time. Any other record (older, same, or unknown
  version) may only fill fields that are empty. A field is never emptied because a poorer
  source lacks it;
- imported upvote/comment counts keep the maximum seen;
- the other community fields (GitHub repo/stars, project page, AI summary/keywords,
  organisation) take the newest non-null value: the value of the record for the latest
  daily-list day, or, for records without a day, the last one read;
- ``user_*`` counts are never touched; ``modified_at`` moves only when something changed.

Each record counts once: inserted (new paper), updated (paper or its daily entry changed),
unchanged, or rejected. A record is checked against the store's bounds
(:func:`~paperfeed.sources.records.check_record`) before it joins a batch; a batch the
database still refuses because of a value is written again record by record, so that only the
bad record is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from paperfeed.sources.batch_store import flush
from paperfeed.sources.records import PaperRecord, ReadItem, RecordError, check_record
from paperfeed.store.db import Database

BATCH_SIZE = 2000

ErrorCallback = Callable[[str, str], None]


@dataclass
class IngestStats:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def summary_line(self) -> str:
        return (
            f"read {self.read}, inserted {self.inserted}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}"
        )

    def add(self, other: IngestStats) -> None:
        self.read += other.read
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected


def _flush(db: Database, records: list[PaperRecord]) -> IngestStats:
    plan = flush(db, records)
    return IngestStats(inserted=plan.inserted, updated=plan.updated, unchanged=plan.unchanged)


def _flush_with_retry(db: Database, records: list[PaperRecord]) -> IngestStats:
    try:
        return _flush(db, records)
    except IntegrityError:
        # Another writer inserted one of these papers meanwhile (PostgreSQL); read again.
        return _flush(db, records)


def _is_bad_data(exc: Exception) -> bool:
    """A write failed because of a value in it (not the database being down, locked or full):
    the batch is worth retrying record by record."""
    if isinstance(exc, sa.exc.DBAPIError):
        return isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError)
    return isinstance(exc, sa.exc.StatementError | ValueError | OverflowError | TypeError)


def _reason(exc: Exception) -> str:
    """The driver's own first line (SQLAlchemy's message would add the SQL and parameters)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [type(cause).__name__]
    return lines[0][:200]


Located = tuple[str, PaperRecord]


class _Writer:
    """Writes batches; when a batch fails on a value that check_record let through, writes it
    again record by record so only the bad record is lost (a safety net: check_record is the
    check)."""

    def __init__(self, db: Database, stats: IngestStats, on_error: ErrorCallback | None) -> None:
        self.db, self.stats, self.on_error = db, stats, on_error

    def reject(self, location: str, reason: str) -> None:
        self.stats.rejected += 1
        if self.on_error is not None:
            self.on_error(location, reason)

    def write(self, batch: list[Located], strict: bool) -> bool:
        """Write ``batch``; True when ``strict`` and a record was rejected (stop)."""
        try:
            self.stats.add(_flush_with_retry(self.db, [record for _, record in batch]))
            return False
        except Exception as exc:
            if not _is_bad_data(exc):
                raise
        for location, record in batch:
            try:
                self.stats.add(_flush_with_retry(self.db, [record]))
            except Exception as exc:
                if not _is_bad_data(exc):
                    raise
                self.reject(location, f"not stored: {_reason(exc)}")
                if strict:
                    return True
        return False


def _checked(item: ReadItem | PaperRecord, n: int) -> tuple[str, PaperRecord | None, str]:
    """``(location, record, "")`` for a record fit to store, else ``(location, None, reason)``."""
    record: PaperRecord | None
    if isinstance(item, PaperRecord):
        location, record, error = f"record {n}", item, ""
    else:
        location, record, error = item.location, item.record, item.error or "bad record"
    if record is not None:
        try:
            check_record(record)
        except RecordError as exc:
            return location, None, str(exc)
    return location, record, error


def ingest_records(
    db: Database,
    items: Iterable[ReadItem | PaperRecord],
    *,
    strict: bool = False,
    on_error: ErrorCallback | None = None,
    batch_size: int = BATCH_SIZE,
    stats: IngestStats | None = None,
) -> IngestStats:
    """Merge records into the store; see the module docstring for the rules.

    Every record is checked against the store's bounds (:func:`check_record`) before it joins a
    batch. Bad items are reported through ``on_error(location, reason)`` and skipped; with
    ``strict`` the first bad item stops the run (everything read before it is committed).
    ``stats``, when given, is filled as batches commit, so a caller still has the counts of
    what was committed when a write raises (disk full).
    """
    stats = stats if stats is not None else IngestStats()
    writer = _Writer(db, stats, on_error)
    batch: list[Located] = []
    for item in items:
        stats.read += 1
        location, record, error = _checked(item, stats.read)
        if record is None:
            writer.reject(location, error)
            if strict:
                break
            continue
        batch.append((location, record))
        if len(batch) >= batch_size:
            stop, batch = writer.write(batch, strict), []
            if stop:
                return stats
    if batch:
        writer.write(batch, strict)
    return stats
