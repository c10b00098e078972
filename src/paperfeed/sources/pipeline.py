"""One ingest pipeline for every source: batch, merge, upsert.

Records are taken in batches (default 2,000). For each batch, inside one write transaction:
one SELECT of the batch's existing papers (and their daily entries), a merge in Python (in
record order, so a paper seen twice in a batch merges twice), then ``executemany`` INSERTs
for new rows and UPDATEs for rows that really changed. SQLAlchemy Core only, no ORM objects.

Merge rules (see :func:`merge_paper`):

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

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from paperfeed.sources.records import PaperRecord, ReadItem, RecordError, check_record
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow

BATCH_SIZE = 2000

ErrorCallback = Callable[[str, str], None]


class _RawJSON(sa.types.TypeDecorator[Any]):
    """A JSON column whose values we encode/decode ourselves (orjson), for speed.

    Binds a ready JSON string (PostgreSQL still gets its ``::JSON`` cast); reads whatever the
    driver returns (a string on SQLite, already-decoded on psycopg).
    """

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> None:
        return None


VERSION_FIELDS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "published_at",
    "updated_at",
    "comment",
    "journal_ref",
    "doi",
    "license",
    "submitter",
)
COMMUNITY_FIELDS = (
    "github_repo",
    "github_stars",
    "project_page",
    "ai_summary",
    "ai_keywords",
    "organization",
)
JSON_FIELDS = frozenset({"authors", "categories", "ai_keywords"})
DATETIME_FIELDS = frozenset({"published_at", "updated_at", "created_at", "modified_at"})
MERGED_FIELDS = (
    *VERSION_FIELDS,
    "version",
    *COMMUNITY_FIELDS,
    "imported_upvotes",
    "imported_comments",
)


def _col(name: str) -> sa.ColumnClause[Any]:
    if name in JSON_FIELDS:
        return sa.column(name, _RawJSON)
    if name in DATETIME_FIELDS:
        return sa.column(name, sa.DateTime)
    if name in ("id", "version", "github_stars", "imported_upvotes", "imported_comments"):
        return sa.column(name, sa.Integer)
    return sa.column(name, sa.Text)


papers_t = sa.table(
    "papers", *(_col(n) for n in ("id", "arxiv_id", *MERGED_FIELDS, "created_at", "modified_at"))
)
entries_t = sa.table(
    "daily_entries",
    sa.column("id", sa.Integer),
    sa.column("paper_id", sa.Integer),
    sa.column("day", sa.Date),
    sa.column("submitted_at", sa.DateTime),
    sa.column("submitted_by", sa.Text),
    sa.column("source", sa.Text),
)


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


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _is_newer(record: PaperRecord, row: dict[str, Any]) -> bool:
    if record.version is None:
        return False
    current = row["version"]
    if current is None or record.version > current:
        return True
    if record.version < current:
        return False
    return record.updated_at is not None and (
        row["updated_at"] is None or record.updated_at > row["updated_at"]
    )


def merge_paper(row: dict[str, Any], record: PaperRecord, community_newest: bool = True) -> bool:
    """Merge ``record`` into ``row`` in place; True when ``row`` changed."""
    changed = False
    newer = _is_newer(record, row)
    for name in VERSION_FIELDS:
        new = getattr(record, name)
        if _empty(new):
            continue
        old = row[name]
        if (newer or _empty(old)) and old != new:
            row[name] = new
            changed = True
    if newer and row["version"] != record.version:
        row["version"] = record.version
        changed = True
    for name in COMMUNITY_FIELDS:
        new = getattr(record, name)
        if _empty(new):
            continue
        old = row[name]
        if (community_newest or _empty(old)) and old != new:
            row[name] = new
            changed = True
    if record.upvotes is not None and record.upvotes > (row["imported_upvotes"] or 0):
        row["imported_upvotes"] = record.upvotes
        changed = True
    if record.num_comments is not None and record.num_comments > (row["imported_comments"] or 0):
        row["imported_comments"] = record.num_comments
        changed = True
    return changed


def new_row(record: PaperRecord) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(record, name) for name in VERSION_FIELDS}
    row["arxiv_id"] = record.arxiv_id
    row["version"] = record.version
    for name in COMMUNITY_FIELDS:
        value = getattr(record, name)
        row[name] = None if _empty(value) else value
    row["imported_upvotes"] = record.upvotes or 0
    row["imported_comments"] = record.num_comments or 0
    return row


def _load_json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


INSERT_COLUMNS = ("arxiv_id", *MERGED_FIELDS, "created_at", "modified_at")
UPDATE_COLUMNS = (*MERGED_FIELDS, "modified_at", "id")  # id last: the WHERE parameter


def _values(row: dict[str, Any], columns: tuple[str, ...], sqlite: bool) -> tuple[Any, ...]:
    """Driver parameters: JSON encoded with orjson; on SQLite, datetimes in SQLAlchemy's
    own storage format (``YYYY-MM-DD HH:MM:SS.ffffff``) so ORM reads and comparisons agree."""
    out = []
    for name in columns:
        value = row.get(name)
        if value is not None:
            if name in JSON_FIELDS:
                value = orjson.dumps(value).decode()
            elif sqlite and name in DATETIME_FIELDS:
                value = value.isoformat(" ", "microseconds")
        out.append(value)
    return tuple(out)


def _placeholder(name: str, sqlite: bool) -> str:
    if sqlite:
        return "?"
    return "%s::json" if name in JSON_FIELDS else "%s"


def _insert_sql(sqlite: bool) -> str:
    cols = ", ".join(INSERT_COLUMNS)
    marks = ", ".join(_placeholder(n, sqlite) for n in INSERT_COLUMNS)
    return f"INSERT INTO papers ({cols}) VALUES ({marks})"


def _update_sql(sqlite: bool) -> str:
    sets = ", ".join(f"{n} = {_placeholder(n, sqlite)}" for n in UPDATE_COLUMNS[:-1])
    return f"UPDATE papers SET {sets} WHERE id = {_placeholder('id', sqlite)}"


@dataclass
class _PaperState:
    row: dict[str, Any]
    is_new: bool
    dirty: bool = False
    max_day: dt.date | None = None


@dataclass
class _EntryState:
    row: dict[str, Any]
    is_new: bool
    dirty: bool = False


def _flush(db: Database, records: list[PaperRecord]) -> IngestStats:
    stats = IngestStats()
    ids = list(dict.fromkeys(r.arxiv_id for r in records))
    want_entries = any(r.daily is not None for r in records)
    now = utcnow()
    with db.write() as session:
        conn = session.connection()
        papers: dict[str, _PaperState] = {}
        by_pk: dict[int, str] = {}
        cols = [papers_t.c.id, papers_t.c.arxiv_id, *(papers_t.c[n] for n in MERGED_FIELDS)]
        for found in conn.execute(sa.select(*cols).where(papers_t.c.arxiv_id.in_(ids))):
            row = dict(found._mapping)
            for name in JSON_FIELDS:
                row[name] = _load_json(row[name])
            if row["authors"] is None:
                row["authors"] = []
            if row["categories"] is None:
                row["categories"] = []
            papers[row["arxiv_id"]] = _PaperState(row=row, is_new=False)
            by_pk[row["id"]] = row["arxiv_id"]

        entries: dict[tuple[str, dt.date], _EntryState] = {}
        if want_entries and by_pk:
            pks = list(by_pk)
            query = sa.select(
                entries_t.c.id,
                entries_t.c.paper_id,
                entries_t.c.day,
                entries_t.c.submitted_at,
                entries_t.c.submitted_by,
                entries_t.c.source,
            ).where(entries_t.c.paper_id.in_(pks))
            for found in conn.execute(query):
                erow = dict(found._mapping)
                arxiv_id = by_pk[erow["paper_id"]]
                entries[(arxiv_id, erow["day"])] = _EntryState(row=erow, is_new=False)
                state = papers[arxiv_id]
                if state.max_day is None or erow["day"] > state.max_day:
                    state.max_day = erow["day"]

        for record in records:
            found_state = papers.get(record.arxiv_id)
            daily = record.daily
            if found_state is None:
                state = _PaperState(row=new_row(record), is_new=True, dirty=True)
                papers[record.arxiv_id] = state
                inserted = True
                paper_changed = True
            else:
                state = found_state
                inserted = False
                newest = daily is None or state.max_day is None or daily.day >= state.max_day
                paper_changed = merge_paper(state.row, record, community_newest=newest)
            entry_changed = False
            if daily is not None:
                key = (record.arxiv_id, daily.day)
                entry = entries.get(key)
                if entry is None:
                    submitted_at = daily.submitted_at or dt.datetime.combine(daily.day, dt.time())
                    entries[key] = _EntryState(
                        row={
                            "day": daily.day,
                            "submitted_at": submitted_at,
                            "submitted_by": daily.submitted_by,
                            "source": daily.source,
                        },
                        is_new=True,
                        dirty=True,
                    )
                    entry_changed = True
                elif entry.row["source"] == "import":
                    erow = entry.row
                    if (
                        daily.submitted_at is not None
                        and erow["submitted_at"] != daily.submitted_at
                    ):
                        erow["submitted_at"] = daily.submitted_at
                        entry_changed = True
                    if daily.submitted_by and erow["submitted_by"] != daily.submitted_by:
                        erow["submitted_by"] = daily.submitted_by
                        entry_changed = True
                    entry.dirty = entry.dirty or entry_changed
                if state.max_day is None or daily.day > state.max_day:
                    state.max_day = daily.day
            if inserted:
                stats.inserted += 1
            elif paper_changed or entry_changed:
                state.dirty = True
                stats.updated += 1
            else:
                stats.unchanged += 1

        sqlite = conn.dialect.name == "sqlite"
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for state in papers.values():
            if not state.dirty:
                continue
            r = state.row
            r["modified_at"] = now
            if state.is_new:
                r["created_at"] = now
                inserts.append(_values(r, INSERT_COLUMNS, sqlite))
            else:
                updates.append(_values(r, UPDATE_COLUMNS, sqlite))
        # Plain executemany on the driver: per-row SQLAlchemy parameter processing would cost
        # more than the database itself at this volume.
        if inserts:
            conn.exec_driver_sql(_insert_sql(sqlite), inserts)
        if updates:
            conn.exec_driver_sql(_update_sql(sqlite), updates)

        if entries:
            pk_of = {arxiv_id: pk for pk, arxiv_id in by_pk.items()}
            missing = [a for (a, _day), e in entries.items() if e.is_new and a not in pk_of]
            if missing:
                query = sa.select(papers_t.c.id, papers_t.c.arxiv_id).where(
                    papers_t.c.arxiv_id.in_(list(dict.fromkeys(missing)))
                )
                for found in conn.execute(query):
                    pk_of[found.arxiv_id] = found.id
            new_entries = []
            changed_entries = []
            for (arxiv_id, _day), entry in entries.items():
                if not entry.dirty:
                    continue
                if entry.is_new:
                    new_entries.append({"paper_id": pk_of[arxiv_id], **entry.row})
                else:
                    changed_entries.append(
                        {
                            "_pk": entry.row["id"],
                            "submitted_at": entry.row["submitted_at"],
                            "submitted_by": entry.row["submitted_by"],
                        }
                    )
            if new_entries:
                conn.execute(sa.insert(entries_t), new_entries)
            if changed_entries:
                stmt = (
                    sa.update(entries_t)
                    .where(entries_t.c.id == sa.bindparam("_pk"))
                    .values(
                        submitted_at=sa.bindparam("submitted_at"),
                        submitted_by=sa.bindparam("submitted_by"),
                    )
                )
                conn.execute(stmt, changed_entries)
    return stats


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
