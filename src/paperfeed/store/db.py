"""Engine and sessions: the one place that knows SQLite's rules.

SQLite: WAL (readers never block the writer), ``foreign_keys=ON``, a busy timeout, and
writes serialised: a write session starts with ``BEGIN IMMEDIATE`` (so two writers queue on
the database lock instead of failing on a read-to-write upgrade) and, inside one process, also
takes a lock, so threads queue in order rather than spinning on the busy timeout. Across
processes (``serve --workers N``, a CLI ingest beside the server) writers also queue on an
``flock`` of ``<database>-writelock``: a waiter wakes the moment the lock is released, where
SQLite's busy handler polls with sleeps (that polling was the tail latency of concurrent
upvotes with two workers: benchmarks/RESULTS.md, "Upvotes under load"). PostgreSQL needs
none of this.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from paperfeed.config import Settings, get_settings
from paperfeed.store import names as _names  # noqa: F401  (registers the ORM hook)
from paperfeed.store.dialect import Ops, ops_for

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_SECONDS = 1.0
CHECKPOINT_EVERY_SECONDS = 1.0

log = logging.getLogger(__name__)
_T = TypeVar("_T")


# Engines (by id) whose connections leave WAL checkpoints to a background thread, with how
# many such threads run. Read by the one connect listener: adding and removing listeners
# while other threads connect is not thread-safe in SQLAlchemy ("deque mutated during
# iteration" when several apps on one database start and stop).
_checkpoint_threads: Counter[int] = Counter()


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            # Take transaction control away from the driver; we issue BEGIN ourselves.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            if _checkpoint_threads[id(engine)]:  # see Database.checkpoint_in_background
                cur.execute("PRAGMA wal_autocheckpoint = 0")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.get_execution_options().get("paperfeed_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10, json_deserializer=json_loads)
    _ping_when_idle(engine)
    return engine


def json_loads(data: str | bytes) -> Any:
    """JSON columns as PostgreSQL's driver reads them: orjson (a paper's authors and
    categories were ~100 ``json.loads`` a For you answer, benchmarks/RESULTS.md), and the
    standard library for what orjson refuses and ``json.loads`` reads (NaN, lone surrogates)
    or reads otherwise (an integer beyond 64 bits orjson makes a float: any run of 19
    digits goes to ``json.loads``), so that every value reads as before."""
    if _LONG_NUMBER.search(data if isinstance(data, bytes) else data.encode()) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled PostgreSQL connection at checkout only when it has been idle for
    ``PING_AFTER_IDLE_SECONDS``; a dead one is replaced before use.

    Why not ``pool_pre_ping``: it pings at every checkout, one more round trip to a server
    that shares the cores under load (a visible share of a 1M-paper search,
    benchmarks/RESULTS.md). A connection
    that served a request a moment ago is alive; after a server restart the pooled
    connections are idle by the time anyone uses them, unless requests were flowing through
    the restart, in which case that request fails and SQLAlchemy drops the pool's dead
    connections (its disconnect handling), so the next one reconnects."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["paperfeed_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("paperfeed_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("pooled connection is dead") from exc


class WriteBusy(Exception):
    """``Database.write(wait=False)``: another writer holds the lock right now."""


class Database:
    """Holds the engine and hands out read and write sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self.ops: Ops = ops_for(url)
        self.is_sqlite = url.startswith("sqlite")  # store's own; elsewhere ask ``ops``
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._quick_read = (
            self._read
            if self.is_sqlite
            else sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )
        self._write_engine = self.engine.execution_options(paperfeed_write=True)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._write_lock = threading.Lock()
        self._lock_path = _lock_path(url) if self.is_sqlite else None
        self._lock_fd: int | None = None
        self._lock_pid = 0  # a forked child opens its own fd (flock is per open file)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def quick_read(self) -> Iterator[Session]:
        """A session for a few SELECTs that need not share one snapshot (a search joining
        its hits back). On PostgreSQL it runs in autocommit: each statement is its own
        snapshot, and there is no BEGIN and no ROLLBACK, two of a search's round trips. On
        SQLite (in process, no round trips) it is ``read()``."""
        with self._quick_read() as session:
            yield session

    def fetch_one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row of one SELECT in the driver's own SQL (``?`` placeholders), on a
        bare DB-API cursor: for a lookup on every API write (the token), where SQLAlchemy's
        statement execution was most of the cost. Values come as the driver gives them
        (SQLite: 0/1 for booleans). On SQLite the driver is in autocommit, so no BEGIN; on
        PostgreSQL the pool's rollback on return ends the read's transaction."""
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute(self.placeholders(sql), params)
            row = cursor.fetchone()
            cursor.close()
            return None if row is None else tuple(row)
        finally:
            conn.close()

    @contextmanager
    def write(self, *, wait: bool = True) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error.

        With ``wait=False`` (SQLite) it raises ``WriteBusy`` at once, instead of waiting, when
        another thread or process holds the write lock: for callers on an event loop, which
        must never block on a lock (PostgreSQL has no such lock; there it always proceeds)."""
        with self._write_locks(wait), self._write() as session, session.begin():
            yield session

    @contextmanager
    def raw_write(self, *, wait: bool = True) -> Iterator[Any]:
        """A write transaction on a bare DB-API cursor, for the hottest write (votes): no
        session, no statement compilation, no pool events per statement. On SQLite this
        was ~200 of a vote's ~250 microseconds of database work through SQLAlchemy Core.
        The SQL is the driver's own: ``?`` placeholders on SQLite, ``%s`` on PostgreSQL
        (``Database.placeholders`` rewrites). The connection comes from the pool. Commits on
        success, rolls back on error; locks and ``wait`` as in ``write``."""
        with self._write_locks(wait):
            conn = self.engine.raw_connection()
            try:
                cursor = conn.cursor()
                if self.is_sqlite:
                    cursor.execute("BEGIN IMMEDIATE")  # the driver is in autocommit mode
                try:
                    yield cursor
                    conn.commit()
                except BaseException as exc:
                    if lost_connection(exc):
                        # Dead: not back into the pool, and the pool's idle connections
                        # (likely dead too: a restarted server) replaced, as SQLAlchemy
                        # does when it sees a disconnect on a statement of its own.
                        conn.invalidate(exc)
                        self.engine.dispose()
                    else:
                        conn.rollback()
                    raise
                cursor.close()
            finally:
                conn.close()  # back to the pool

    def placeholders(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in this driver's style."""
        return self.ops.driver_sql(sql)

    @contextmanager
    def _write_locks(self, wait: bool) -> Iterator[None]:
        if not self.is_sqlite:
            yield
            return
        if not self._write_lock.acquire(blocking=wait):
            raise WriteBusy
        try:
            with ExitStack() as stack:
                self._lock_other_processes(stack, wait)
                yield
        finally:
            self._write_lock.release()

    def _lock_other_processes(self, stack: ExitStack, wait: bool = True) -> None:
        """Hold the cross-process write lock until ``stack`` closes (no-op where there is no
        file or no ``fcntl``). Called with ``_write_lock`` held, so one fd per process."""
        if self._lock_path is None or fcntl is None:
            return
        if self._lock_fd is None or self._lock_pid != os.getpid():
            try:
                self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                self._lock_pid = os.getpid()
            except OSError:
                self._lock_path = None  # read-only folder: the busy timeout alone
                return
        fd = self._lock_fd
        if fd is None:  # pragma: no cover - for mypy
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise WriteBusy from exc
        stack.callback(fcntl.flock, fd, fcntl.LOCK_UN)

    def upgrade(self) -> None:
        # lazy: alembic loads only when the schema is upgraded (pages and --help never do)
        from paperfeed.store.migrate import upgrade

        upgrade(self)

    def checkpoint_in_background(self) -> Callable[[], None]:
        """SQLite, for a serving process: from now on this process's commits leave the WAL to
        a background thread, which checkpoints it every ``CHECKPOINT_EVERY_SECONDS``.
        Returns the function that stops it (a no-op elsewhere).

        Why: by default the commit that takes the WAL past 1,000 pages also copies it into
        the database and fsyncs, inside the write transaction's turn. With votes committed
        on the event loop that was a stall of every request of the worker about once a
        second, while holding the write lock (benchmarks/RESULTS.md, "Upvotes under load").
        A PASSIVE checkpoint waits for no one and blocks no writer, and the thread releases
        the GIL while SQLite works. Other processes (an ingest, the CLI) keep SQLite's
        automatic checkpoints, so the WAL stays bounded even with no server running."""
        if not self.is_sqlite or self._lock_path is None:
            return lambda: None

        _checkpoint_threads[id(self.engine)] += 1
        self.engine.dispose()  # connections made before this point reconnect with it
        stop = threading.Event()

        def run() -> None:
            conn = self.engine.raw_connection()
            try:
                while not stop.wait(CHECKPOINT_EVERY_SECONDS):
                    try:
                        conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error:
                        log.exception("WAL checkpoint failed (will try again)")
            finally:
                conn.close()

        thread = threading.Thread(target=run, name="paperfeed-checkpoint", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=10)
            _checkpoint_threads[id(self.engine)] -= 1

        return halt

    def dispose(self) -> None:
        self.engine.dispose()
        with self._write_lock:
            if self._lock_fd is not None and self._lock_pid == os.getpid():
                os.close(self._lock_fd)
                self._lock_fd = None


def lost_connection(exc: BaseException) -> bool:
    """True when ``exc`` says the connection to PostgreSQL was lost (its backend terminated,
    the server restarted), as SQLAlchemy reports it (the connection invalidated) or as psycopg
    does on a bare connection: no SQLSTATE, or class 08 (connection) or 57P (shutdown)."""
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated)
    try:
        import psycopg  # lazy: psycopg loads only where PostgreSQL is in use
    except ImportError:  # pragma: no cover - SQLite only
        return False
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(("08", "57P"))


def retry_if_disconnected(work: Callable[[], _T], what: str) -> _T:
    """``work()``, run once more (on a new connection: the pool drops a lost one) when the
    connection was lost under it. Only for work that is safe to repeat: a transaction that
    either committed or not, whose second run finds out which, or idempotent writes."""
    try:
        return work()
    except Exception as exc:
        if not lost_connection(exc):
            raise
        log.warning("%s: the database connection was lost (%s); once more on a new one", what, exc)
    return work()


def _lock_path(url: str) -> str | None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path.split("?", 1)[0] + "-writelock"


@lru_cache(maxsize=8)
def _database_for(url: str) -> Database:
    return Database(url)


def get_database(settings: Settings | None = None) -> Database:
    settings = settings or get_settings()
    return _database_for(settings.sqlalchemy_url)
