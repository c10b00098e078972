"""The store on a real database: migrations, SQLite's rules, constraints, backup."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from paperfeed.cli import cli
from paperfeed.store.db import Database
from paperfeed.store.migrate import current_revision
from paperfeed.store.models import DailyEntry, Paper
from tests.factories import add_entry, add_paper

# These tests are about the migrations: each upgrades its own empty database.
pytestmark = pytest.mark.real_upgrade


def test_upgrade_creates_schema_and_is_repeatable(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert {"papers", "daily_entries", "site_meta", "alembic_version"} <= tables
    head = current_revision(database)
    database.upgrade()  # a second upgrade is a no-op
    assert current_revision(database) == head is not None


def test_downgrade_and_upgrade_round_trip(database: Database) -> None:
    from alembic import command

    from paperfeed.store.migrate import alembic_config

    command.downgrade(alembic_config(database), "base")
    assert "papers" not in inspect(database.engine).get_table_names()
    database.upgrade()
    assert "papers" in inspect(database.engine).get_table_names()


def test_one_row_per_arxiv_id(database: Database) -> None:
    add_paper(database, "2501.00001")
    with pytest.raises(IntegrityError):
        add_paper(database, "2501.00001")


def test_one_entry_per_paper_and_day(database: Database) -> None:
    add_entry(database, "2501.00002", dt.date(2025, 1, 6), upvotes=3)
    with pytest.raises(IntegrityError):
        add_entry(database, "2501.00002", dt.date(2025, 1, 6))
    add_entry(database, "2501.00002", dt.date(2025, 1, 7))  # another day is fine
    with database.read() as s:
        assert s.query(DailyEntry).count() == 2


def test_deleting_a_paper_deletes_its_entries(database: Database) -> None:
    add_entry(database, "2501.00003", dt.date(2025, 1, 6))
    with database.write() as s:
        s.execute(text("DELETE FROM papers WHERE arxiv_id = '2501.00003'"))
    with database.read() as s:
        assert s.query(DailyEntry).count() == 0


def test_upvote_counts_kept_apart(database: Database) -> None:
    add_paper(database, "2501.00004", imported_upvotes=7, user_upvotes=2)
    with database.read() as s:
        paper = s.query(Paper).filter_by(arxiv_id="2501.00004").one()
        assert (paper.imported_upvotes, paper.user_upvotes, paper.upvotes) == (7, 2, 9)


def test_postgres_quick_read_has_no_transaction(database: Database) -> None:
    """``quick_read``: each statement is its own transaction on PostgreSQL (no BEGIN, no
    ROLLBACK round trips), and the connection goes back to the pool transactional again."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: on SQLite quick_read is read")
    xid = text("SELECT txid_current()")
    with database.quick_read() as s:
        assert s.execute(xid).scalar() != s.execute(xid).scalar()
    for _ in range(3):  # whichever pooled connection comes back
        with database.read() as s:
            assert s.execute(xid).scalar() == s.execute(xid).scalar()


def test_postgres_replaces_a_dead_idle_connection(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection idle past PING_AFTER_IDLE_SECONDS is pinged at checkout, and a
    dead one (its server backend killed) is replaced before the caller sees it."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite connections do not die")
    from paperfeed.store import db as db_module

    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    database.engine.dispose()  # one pooled connection from here: the one killed below
    pid = text("SELECT pg_backend_pid()")
    with database.read() as s:
        first = s.execute(pid).scalar()
    killer = Database(database.url)
    try:
        with killer.quick_read() as s:
            assert s.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first}).scalar()
    finally:
        killer.dispose()
    time.sleep(0.2)  # the backend exits
    with database.read() as s:
        assert s.execute(pid).scalar() != first


def test_sqlite_pragmas(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite only: its pragmas do not apply to PostgreSQL")
    with database.read() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def test_sqlite_checkpoints_move_to_a_background_thread(tmp_path: Path) -> None:
    """A serving process's commits leave the WAL alone; its checkpoint thread copies it into
    the database file. (Without the thread, SQLite's own commit would checkpoint past
    1,000 pages.)"""
    path = tmp_path / "site.db"
    db = Database(f"sqlite:///{path}")
    with db.raw_write() as cur:
        cur.execute("CREATE TABLE t (x BLOB)")
    stop = db.checkpoint_in_background()
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        size = path.stat().st_size
        for _ in range(30):  # ~1,500 pages through the WAL, in separate commits
            with db.raw_write() as cur:
                cur.executemany("INSERT INTO t VALUES (?)", [(b"x" * 4000,)] * 50)
        wal = Path(f"{path}-wal").stat().st_size
        assert wal > 1_300 * 4096  # commits did not checkpoint (they would at 1,000 pages)
        deadline = time.monotonic() + 10
        while path.stat().st_size < size + 1_000 * 4096 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size >= size + 1_000 * 4096  # the thread copied the pages
    finally:
        stop()
        db.dispose()
    with Database(f"sqlite:///{path}").engine.connect() as conn:  # a fresh one: SQLite's
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000  # default


def test_sqlite_writers_are_serialised(database: Database) -> None:
    """Many threads incrementing one counter through write sessions lose no update."""
    add_paper(database, "2501.00005")
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(20):
                with database.write() as s:
                    n = s.execute(
                        text("SELECT user_upvotes FROM papers WHERE arxiv_id = '2501.00005'")
                    ).scalar_one()
                    s.execute(
                        text("UPDATE papers SET user_upvotes = :n WHERE arxiv_id = '2501.00005'"),
                        {"n": n + 1},
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    if not database.is_sqlite:
        pytest.skip("SQLite only: read-modify-write without row locks is serialised there")
    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.read() as s:
        assert s.query(Paper.user_upvotes).filter_by(arxiv_id="2501.00005").scalar() == 80


def test_sqlite_writers_of_two_processes_queue_on_the_file_lock(database: Database) -> None:
    """A second ``Database`` on the same file (as in another worker process: its own thread
    lock, its own fd) waits on the ``-writelock`` flock, not on SQLite's busy polling."""
    if not database.is_sqlite:
        pytest.skip("SQLite only: the write lock file")
    other = Database(database.url)
    entered = threading.Event()

    def write_from_the_other() -> None:
        with other.write() as s:
            s.execute(text("SELECT 1"))
            entered.set()

    try:
        with database.write() as s:
            s.execute(text("UPDATE papers SET user_upvotes = 0"))
            thread = threading.Thread(target=write_from_the_other)
            thread.start()
            assert not entered.wait(0.3)  # held off while this write is open
            lock = Path(database.url.split("///", 1)[1] + "-writelock")
            assert lock.exists()
        thread.join(timeout=30)
        assert entered.is_set()
    finally:
        other.dispose()


def test_db_upgrade_and_backup_commands(database: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at head" in result.output
    add_paper(database, "2501.00006")
    target = tmp_path / "backup" / "copy.db"
    result = runner.invoke(cli, ["db", "backup", str(target)])
    if not database.is_sqlite:
        assert result.exit_code != 0
        assert "pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    assert "integrity_check: ok" in result.output
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT arxiv_id FROM papers").fetchall() == [("2501.00006",)]
    copy.close()
    again = runner.invoke(cli, ["db", "backup", str(target)])
    assert again.exit_code != 0
    assert "already exists" in again.output
