"""Faults around an ingest: a record far too big, a batch the database refuses, a full disk.

Every title and abstract here is invented for the tests.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result

from paperfeed.sources.pipeline import ingest_records
from paperfeed.sources.readers import MAX_RECORD_BYTES, read_jsonl
from paperfeed.sources.records import PaperRecord
from paperfeed.store.db import Database
from paperfeed.store.models import Paper

from .conftest import paper_line

Invoke = Callable[..., Result]
LONG_LINE_BYTES = 40 * 1024 * 1024


def arxiv_ids(db: Database) -> set[str]:
    with db.read() as s:
        return set(s.execute(sa.select(Paper.arxiv_id)).scalars())


def write_with_long_line(path: Path) -> None:
    """Good line, a 40 MB line (gzip makes it ~40 KB), good line."""
    with gzip.open(path, "wb") as fh:
        fh.write(json.dumps(paper_line("2501.00001")).encode() + b"\n")
        fh.write(b'{"id": "2501.00002", "title": "')
        chunk = b"a" * (1 << 20)
        for _ in range(LONG_LINE_BYTES // len(chunk)):
            fh.write(chunk)
        fh.write(b'"}\n')
        fh.write(json.dumps(paper_line("2501.00003")).encode() + b"\n")


def test_a_huge_line_is_reported_and_never_held_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl.gz"
    write_with_long_line(path)
    tracemalloc.start()
    try:
        items = list(read_jsonl([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(i.line, i.error) for i in items] == [
        (1, None),
        (2, f"record larger than {MAX_RECORD_BYTES} bytes"),
        (3, None),
    ]
    # The line is 40 MB; read in pieces of the cap, the peak stays a few caps (gzip's and the
    # buffer's own included), the same for a line of 10 or 120 MB.
    assert peak < 8 * MAX_RECORD_BYTES < LONG_LINE_BYTES, peak


def test_a_huge_line_through_the_cli(tmp_path: Path, invoke: Invoke, database: Database) -> None:
    path = tmp_path / "long.jsonl.gz"
    write_with_long_line(path)
    result = invoke("ingest", "jsonl", "--no-index", str(path))
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == f"{path}:2: record larger than {MAX_RECORD_BYTES} bytes"
    assert arxiv_ids(database) == {"2501.00001", "2501.00003"}


def test_a_huge_array_element_is_reported(
    tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    from .test_ingest_bad_values import api_item, write_array

    path = tmp_path / "daily.json"
    big = {"summary": "b" * (MAX_RECORD_BYTES + 10)}
    write_array(path, [api_item("2501.00001", {}), api_item("2501.00002", big)])
    result = invoke("ingest", "daily-papers", "--no-index", str(path))
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == f"{path}:3: record larger than {MAX_RECORD_BYTES} bytes"
    assert arxiv_ids(database) == {"2501.00001"}


# --------------------------------------------------------------------------- refused batch


@pytest.fixture
def poisoned(database: Database) -> Iterator[Database]:
    """The database refuses one title (a trigger): a failure check_record cannot foresee."""
    with database.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON papers WHEN NEW.title = 'Poison' "
                "BEGIN SELECT RAISE(ABORT, 'poisoned title'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                "IF NEW.title = 'Poison' THEN RAISE EXCEPTION 'poisoned title' "
                "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER poison BEFORE INSERT ON papers "
                "FOR EACH ROW EXECUTE FUNCTION poison()"
            )
    yield database


def records(titles: list[str]) -> list[PaperRecord]:
    return [PaperRecord(arxiv_id=f"2501.{n:05d}", title=t) for n, t in enumerate(titles, 1)]


def test_a_refused_batch_is_written_record_by_record(poisoned: Database) -> None:
    seen: list[tuple[str, str]] = []
    batch = records(["Invented A", "Invented B", "Poison", "Invented D", "Invented E"])
    stats = ingest_records(poisoned, batch, on_error=lambda *e: seen.append(e))
    assert (stats.read, stats.inserted, stats.rejected) == (5, 4, 1)
    assert len(seen) == 1 and seen[0][0] == "record 3"
    assert seen[0][1].startswith("not stored:") and "poisoned title" in seen[0][1]
    assert arxiv_ids(poisoned) == {"2501.00001", "2501.00002", "2501.00004", "2501.00005"}


def test_strict_stops_at_the_refused_record(poisoned: Database) -> None:
    batch = records(["Invented A", "Invented B", "Poison", "Invented D"])
    stats = ingest_records(poisoned, batch, strict=True)
    assert (stats.inserted, stats.rejected) == (2, 1)
    assert arxiv_ids(poisoned) == {"2501.00001", "2501.00002"}


# --------------------------------------------------------------------------- disk full


def cap_sqlite_file(database: Database, pages: int) -> Callable[[], None]:
    """Every new connection may grow the file to ``pages`` pages at most: SQLite then says
    "database or disk is full", as on a full disk. Returns the undo."""

    def limit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    sa.event.listen(database.engine, "connect", limit)
    database.engine.dispose()

    def undo() -> None:
        sa.event.remove(database.engine, "connect", limit)
        database.engine.dispose()

    return undo


def test_disk_full_is_one_line_and_a_rerun_completes(
    tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    if database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: the fault is injected with its max_page_count")
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(paper_line(f"2501.{n:05d}")) + "\n" for n in (1, 2)))
    assert invoke("ingest", "jsonl", "--no-index", str(first)).exit_code == 0
    more = tmp_path / "more.jsonl"
    rows = [paper_line(f"2502.{n:05d}", abstract="Invented words. " * 50) for n in range(1, 301)]
    more.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with database.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    undo = cap_sqlite_file(database, pages)
    try:
        full = invoke("ingest", "jsonl", "--no-index", str(more))
    finally:
        undo()
    assert full.exit_code == 4, full.output
    assert full.stdout == ""
    (line,) = full.stderr.strip().splitlines()
    assert line.startswith("disk full: stopped after 300 records read; 0 are committed")
    assert "Free space, then run the same command again" in line
    assert arxiv_ids(database) == {"2501.00001", "2501.00002"}
    again = invoke("ingest", "jsonl", "--no-index", str(more))
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == "read 300, inserted 300, updated 0, unchanged 0, rejected 0"


def test_disk_full_while_indexing_is_one_line(
    tmp_path: Path, invoke: Invoke, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records are committed before the indexes are brought up to date: a full disk
    then (the keyword index's files, say) says so in one line; `index update` later catches
    up. The fault is injected where the index writes (its update raises ENOSPC)."""
    import errno

    from paperfeed.search.keyword import KeywordIndex

    def full(self: KeywordIndex, db: Database, *, progress: bool = False) -> dict[str, int]:
        raise OSError(errno.ENOSPC, "No space left on device")

    lines = tmp_path / "two.jsonl"
    lines.write_text("".join(json.dumps(paper_line(f"2501.{n:05d}")) + "\n" for n in (1, 2)))
    real = KeywordIndex.update
    monkeypatch.setattr(KeywordIndex, "update", full)
    result = invoke("ingest", "jsonl", str(lines))
    assert result.exit_code == 4, result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("disk full while updating the search indexes: read 2, inserted 2")
    assert "run `paperfeed index update`" in line
    assert arxiv_ids(database) == {"2501.00001", "2501.00002"}
    again = invoke("index", "update", "--keyword-only")
    assert again.exit_code == 1
    assert again.stderr.strip().splitlines()[-1].startswith("Error: disk full")
    monkeypatch.setattr(KeywordIndex, "update", real)
    assert invoke("index", "update", "--keyword-only").exit_code == 0
