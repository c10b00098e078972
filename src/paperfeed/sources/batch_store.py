"""One ingest batch against the store: read the batch's stored papers (and their daily
entries), plan the merge (:mod:`paperfeed.sources.merge`), write the plan, all in one write
transaction.

Papers are written with plain ``executemany`` on the driver: per-row SQLAlchemy parameter
processing would cost more than the database itself at this volume. That SQL takes its table
and column names, and which columns hold JSON or datetimes, from the models; placeholders and
datetime values come from ``db.ops``. Daily entries (few per batch) go through SQLAlchemy Core,
and so do the names the papers written are found by (``store/names.py``), in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from paperfeed.sources.merge import MERGED_FIELDS, MergePlan, plan_merge
from paperfeed.sources.records import PaperRecord
from paperfeed.store.db import Database
from paperfeed.store.dialect import Ops
from paperfeed.store.models import DailyEntry, Paper, utcnow
from paperfeed.store.names import replace_names

PAPERS: sa.Table = Paper.__table__  # type: ignore[assignment]
ENTRIES: sa.Table = DailyEntry.__table__  # type: ignore[assignment]
JSON_COLUMNS = frozenset(c.name for c in PAPERS.c if isinstance(c.type, sa.JSON))
DATETIME_COLUMNS = frozenset(c.name for c in PAPERS.c if isinstance(c.type, sa.DateTime))
INSERT_COLUMNS = ("arxiv_id", *MERGED_FIELDS, "created_at", "modified_at")
UPDATE_COLUMNS = (*MERGED_FIELDS, "modified_at", "id")  # id last: the WHERE parameter
ENTRY_COLUMNS = ("id", "paper_id", "day", "submitted_at", "submitted_by", "source")


class _RawJSON(sa.types.TypeDecorator[Any]):
    """A JSON column whose values we decode ourselves (orjson), for speed: reads whatever
    the driver returns (a string on SQLite, already decoded on psycopg)."""

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> None:
        return None

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> None:
        return None


def _read_columns() -> list[sa.ColumnElement[Any]]:
    names = ("id", "arxiv_id", *MERGED_FIELDS)
    return [
        sa.type_coerce(PAPERS.c[n], _RawJSON).label(n) if n in JSON_COLUMNS else PAPERS.c[n]
        for n in names
    ]


_PAPER_COLUMNS = _read_columns()


def _load_json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def _insert_sql() -> str:
    cols = ", ".join(PAPERS.c[n].name for n in INSERT_COLUMNS)
    marks = ", ".join("?" for _ in INSERT_COLUMNS)
    return f"INSERT INTO {PAPERS.name} ({cols}) VALUES ({marks})"


def _update_sql() -> str:
    sets = ", ".join(f"{PAPERS.c[n].name} = ?" for n in UPDATE_COLUMNS[:-1])
    return f"UPDATE {PAPERS.name} SET {sets} WHERE {PAPERS.c.id.name} = ?"


INSERT_SQL = _insert_sql()
UPDATE_SQL = _update_sql()


def driver_values(
    row: dict[str, Any], columns: Sequence[str], datetime: Callable[[dt.datetime], Any]
) -> tuple[Any, ...]:
    """Driver parameters of ``row``: JSON encoded with orjson, datetimes by ``datetime``
    (the database's driver form, so ORM reads and comparisons agree)."""
    out = []
    for name in columns:
        value = row.get(name)
        if value is not None:
            if name in JSON_COLUMNS:
                value = orjson.dumps(value).decode()
            elif name in DATETIME_COLUMNS:
                value = datetime(value)
        out.append(value)
    return tuple(out)


def read_stored(
    conn: Connection, ops: Ops, ids: list[str], want_entries: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The stored papers among ``ids`` (JSON decoded, lists never None) and, with
    ``want_entries``, their daily entries."""
    papers = []
    query = sa.select(*_PAPER_COLUMNS).where(PAPERS.c.arxiv_id.in_(ids))
    for found in conn.execute(query):
        row = dict(found._mapping)
        for name in JSON_COLUMNS.intersection(row):
            row[name] = _load_json(row[name])
        if row["authors"] is None:
            row["authors"] = []
        if row["categories"] is None:
            row["categories"] = []
        papers.append(row)
    if not (want_entries and papers):
        return papers, []
    pks = [row["id"] for row in papers]
    query = sa.select(*(ENTRIES.c[n] for n in ENTRY_COLUMNS)).where(
        ops.among(ENTRIES.c.paper_id, pks)
    )
    return papers, [dict(found._mapping) for found in conn.execute(query)]


def write_plan(conn: Connection, ops: Ops, plan: MergePlan, now: dt.datetime) -> None:
    """Carry ``plan`` out on ``conn`` (inside the caller's transaction); ``now`` stamps the
    papers written."""
    for row in plan.new_papers:
        row["created_at"] = row["modified_at"] = now
    for row in plan.changed_papers:
        row["modified_at"] = now
    to_driver = ops.driver_datetime
    if plan.new_papers:
        inserts = [driver_values(r, INSERT_COLUMNS, to_driver) for r in plan.new_papers]
        conn.exec_driver_sql(ops.driver_sql(INSERT_SQL), inserts)
    if plan.changed_papers:
        updates = [driver_values(r, UPDATE_COLUMNS, to_driver) for r in plan.changed_papers]
        conn.exec_driver_sql(ops.driver_sql(UPDATE_SQL), updates)
    pk_of = {r["arxiv_id"]: r["id"] for r in plan.changed_papers if "id" in r}
    if plan.new_papers:
        pk_of.update(_ids_of(conn, [r["arxiv_id"] for r in plan.new_papers]))
    for rows, new in ((plan.changed_papers, False), (plan.new_papers, True)):
        names = [(pk_of[r["arxiv_id"]], r.get("authors"), r.get("organization")) for r in rows]
        replace_names(conn, names, ops, new=new)
    if plan.new_entries:
        pk_of.update(_paper_ids(conn, plan, pk_of))
        rows = [{"paper_id": pk_of[arxiv_id], **row} for arxiv_id, row in plan.new_entries]
        conn.execute(sa.insert(ENTRIES), rows)
    if plan.changed_entries:
        # "_pk": a bind parameter may not be named after a column the statement sets.
        stmt = (
            sa.update(ENTRIES)
            .where(ENTRIES.c.id == sa.bindparam("_pk"))
            .values(
                submitted_at=sa.bindparam("submitted_at"),
                submitted_by=sa.bindparam("submitted_by"),
            )
        )
        params = [
            {"_pk": e["id"], "submitted_at": e["submitted_at"], "submitted_by": e["submitted_by"]}
            for e in plan.changed_entries
        ]
        conn.execute(stmt, params)


def _paper_ids(conn: Connection, plan: MergePlan, known: dict[str, int]) -> dict[str, int]:
    """Ids of the papers that new entries belong to and ``known`` lacks."""
    missing = list(dict.fromkeys(a for a, _row in plan.new_entries if a not in known))
    return _ids_of(conn, missing) if missing else {}


def _ids_of(conn: Connection, arxiv_ids: list[str]) -> dict[str, int]:
    query = sa.select(PAPERS.c.id, PAPERS.c.arxiv_id).where(PAPERS.c.arxiv_id.in_(arxiv_ids))
    return {found.arxiv_id: found.id for found in conn.execute(query)}


def flush(db: Database, records: list[PaperRecord]) -> MergePlan:
    """Merge ``records`` into the store in one write transaction; the plan carried out."""
    ids = list(dict.fromkeys(r.arxiv_id for r in records))
    want_entries = any(r.daily is not None for r in records)
    now = utcnow()
    with db.write() as session:
        conn = session.connection()
        papers, entries = read_stored(conn, db.ops, ids, want_entries)
        plan = plan_merge(records, papers, entries)
        write_plan(conn, db.ops, plan, now)
    return plan
