"""Every SQLite/PostgreSQL difference that domain code meets, asked of one object.

In the spirit of Django's ``connection.ops`` / ``connection.features``: a module above
``store`` never tests the database's name; it asks ``db.ops`` for the statement or the value
it needs (an upsert's INSERT, an id list, a skip-locked claim, a lock that serialises a few
statements between workers, the driver's own SQL and datetime text) and reads
``db.ops.features`` for what the database can do. ``tests/store/test_dialect.py`` runs each
operation on both databases; ``tests/store/test_dialect_boundary.py`` keeps the names out of
the rest of ``src``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Engine, Integer, any_, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import Select

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock on SQLite
    fcntl = None  # type: ignore[assignment]


class LockBusy(Exception):
    """``Ops.exclusive_lock(wait=False)``: someone else holds the lock right now."""


# Any SELECT, whatever its columns: skip_locked gives back the type it was given.
S = TypeVar("S", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Features:
    """What the database can do, as far as domain code needs to know."""

    # Writes are serialised by the database itself (one writer at a time, in process): a
    # transaction that counts then inserts needs no lock of its own, and a short write can
    # be tried on the event loop without waiting (``Database.write(wait=False)``).
    serial_writes: bool
    # The database runs in this process (no network round trips): a short read costs less
    # on the event loop than the hop to a thread and back. The one rule for what runs on
    # the loop is written in ``web/deps.py``; this is its input.
    in_process: bool
    # INSERT/UPDATE inside a WITH clause, answering in the same statement (one round trip
    # for a batch of votes).
    writable_cte: bool


class Ops:
    """The operations whose SQL or values differ between the two databases."""

    name: str
    features: Features

    def insert(self, table: Any) -> Any:
        """An INSERT for ``table`` that has ``on_conflict_do_update``/``_do_nothing``."""
        raise NotImplementedError

    def among(self, column: Any, ids: Sequence[int], name: str = "ids") -> ColumnElement[bool]:
        """``column`` is one of ``ids``."""
        return cast(ColumnElement[bool], column.in_(list(ids)))

    def among_bound(self, column: Any, name: str = "ids") -> ColumnElement[bool]:
        """``column`` is one of the ids given at execution as parameter ``name`` (a list):
        ``among`` for a statement built once and run many times."""
        return cast(ColumnElement[bool], column.in_(bindparam(name, expanding=True)))

    def skip_locked(self, stmt: S, *of: Any) -> S:
        """``stmt`` claiming its rows so that concurrent claimers skip them (a work queue)."""
        return stmt

    def serialise(self, session: Session, key: int) -> None:
        """Make the rest of ``session``'s transaction run alone among the transactions that
        serialise on ``key`` (e.g. count, then insert under a cap)."""

    def driver_sql(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's own style."""
        return sql

    def driver_datetime(self, value: dt.datetime | None) -> Any:
        """A naive UTC datetime as the driver stores it in a DateTime column."""
        return value

    @contextmanager
    def exclusive_lock(
        self,
        engine: Engine,
        *,
        key: int,
        suffix: str,
        fallback: Path,
        wait: bool = True,
        on_wait: Callable[[], None] | None = None,
    ) -> Iterator[None]:
        """Hold, for the block, a lock that one holder at a time has among every thread,
        process and host sharing the database (long work: an index update). PostgreSQL: the
        session advisory lock ``key`` on a dedicated connection; SQLite: an ``flock`` on the
        file ``<database><suffix>``, or ``fallback`` when the database has no file. Each hold
        is a holder of its own (not re-entrant). Without ``wait`` it raises :class:`LockBusy`
        when taken; else ``on_wait`` is called once before it blocks."""
        lock = self._lock(engine, key, suffix, fallback)
        try:
            if not lock.try_take():
                if not wait:
                    raise LockBusy(lock.name)
                if on_wait is not None:
                    on_wait()
                lock.take()
        except BaseException:
            lock.close()
            raise
        try:
            yield
        finally:
            lock.release()

    def _lock(self, engine: Engine, key: int, suffix: str, fallback: Path) -> _Lock:
        """The lock :meth:`exclusive_lock` holds, not yet taken."""
        raise NotImplementedError

    async def connect_async(self, url: URL, *, wait_for_flush: bool = True) -> Any:
        """A driver connection of its own for an event loop, in autocommit (each statement
        its own transaction). ``wait_for_flush=False``: a COMMIT returns before the log
        reaches the disk (a crash of the server may lose the last moment's transactions,
        never half of one). Only where writes are not serialised in process."""
        raise NotImplementedError("no event-loop driver: serial writes run on the loop itself")


class SQLiteOps(Ops):
    name = "sqlite"
    features = Features(serial_writes=True, in_process=True, writable_cte=False)

    def insert(self, table: Any) -> Any:
        return sqlite.insert(table)

    def driver_datetime(self, value: dt.datetime | None) -> Any:
        # SQLAlchemy's SQLite DateTime stores text in this form; a row written through the
        # driver must read back the same through the ORM (and sort with the others).
        return None if value is None else value.isoformat(" ", "microseconds")

    def _lock(self, engine: Engine, key: int, suffix: str, fallback: Path) -> _Lock:
        if fcntl is None:  # pragma: no cover
            return _NoLock()
        file = sqlite_file(engine.url.render_as_string(hide_password=False))
        return _FileLock(Path(file + suffix) if file else fallback)


class PostgresOps(Ops):
    name = "postgresql"
    features = Features(serial_writes=False, in_process=False, writable_cte=True)

    def insert(self, table: Any) -> Any:
        return postgresql.insert(table)

    def among(self, column: Any, ids: Sequence[int], name: str = "ids") -> ColumnElement[bool]:
        # One array parameter: faster than hundreds of bound parameters on PostgreSQL.
        bound = bindparam(name, list(ids), type_=postgresql.ARRAY(Integer))
        return cast(ColumnElement[bool], column == any_(bound))

    def among_bound(self, column: Any, name: str = "ids") -> ColumnElement[bool]:
        bound = bindparam(name, type_=postgresql.ARRAY(Integer))
        return cast(ColumnElement[bool], column == any_(bound))

    def skip_locked(self, stmt: S, *of: Any) -> S:
        return stmt.with_for_update(skip_locked=True, of=list(of) or None)

    def serialise(self, session: Session, key: int) -> None:
        # Transaction-scoped: released at commit or rollback.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def driver_sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _lock(self, engine: Engine, key: int, suffix: str, fallback: Path) -> _Lock:
        return _AdvisoryLock(engine, key)

    async def connect_async(self, url: URL, *, wait_for_flush: bool = True) -> Any:
        import psycopg  # lazy: a SQLite site never pays for importing it

        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        if not wait_for_flush:
            await connection.execute("SET synchronous_commit = off")
        return connection


class _Lock(Protocol):
    name: str  # for LockBusy's message

    def try_take(self) -> bool: ...
    def take(self) -> None: ...
    def release(self) -> None: ...  # and close
    def close(self) -> None: ...


class _NoLock:  # pragma: no cover - not POSIX
    name = "no lock"

    def try_take(self) -> bool:
        return True

    def take(self) -> None:
        pass

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass


class _FileLock:
    """An ``flock`` on a file of its own (created if missing)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.name = str(path)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def try_take(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def take(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.close()

    def close(self) -> None:
        os.close(self.fd)


class _AdvisoryLock:
    """PostgreSQL's session advisory lock ``key``. Session-level, on a connection of its own
    in autocommit: held across the transactions the work commits, released by unlock or by
    the session's end."""

    def __init__(self, engine: Engine, key: int) -> None:
        self.name = f"advisory lock {key}"
        self.params = {"key": key}
        self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def try_take(self) -> bool:
        taken = self.conn.execute(text("SELECT pg_try_advisory_lock(:key)"), self.params)
        return bool(taken.scalar())

    def take(self) -> None:
        self.conn.execute(text("SELECT pg_advisory_lock(:key)"), self.params)

    def release(self) -> None:
        try:
            self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), self.params)
        except Exception:
            self.conn.invalidate()  # its session ends, and the lock with it
        finally:
            self.conn.close()

    def close(self) -> None:
        self.conn.close()


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite database URL; None for one in memory or named by a URI."""
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path.split("?", 1)[0]


def ops_for(url: str) -> Ops:
    """The operations for a database URL."""
    return SQLiteOps() if url.startswith("sqlite") else PostgresOps()
