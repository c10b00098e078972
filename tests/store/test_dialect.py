"""``db.ops``: each operation on the database under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from paperfeed.store.db import Database
from paperfeed.store.dialect import LockBusy, sqlite_file
from paperfeed.store.models import DigestSender, Paper

LOCK_KEY = 0x7066746573746C6B  # "pftestlk"
T0 = dt.datetime(2025, 3, 7, 6, 0)


def test_exclusive_lock_one_holder_at_a_time(database: Database, tmp_path: Path) -> None:
    def lock(
        *, wait: bool = True, on_wait: Callable[[], None] | None = None
    ) -> AbstractContextManager[None]:
        return database.ops.exclusive_lock(
            database.engine,
            key=LOCK_KEY,
            suffix="-testlock",
            fallback=tmp_path / ".test.lock",
            wait=wait,
            on_wait=on_wait,
        )

    got: list[str] = []
    waiting = threading.Event()

    def second() -> None:
        with lock(on_wait=waiting.set):
            got.append("second")

    with lock():
        with pytest.raises(LockBusy), lock(wait=False):
            pass  # not re-entrant: a second hold is another holder
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(10)
        time.sleep(0.1)
        assert got == []  # blocks while the first holds it
    thread.join(10)
    assert got == ["second"]
    with lock(wait=False):
        pass  # free again


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:////var/pf/paperfeed.db", "/var/pf/paperfeed.db"),
        ("sqlite:///rel/paperfeed.db?timeout=5", "rel/paperfeed.db"),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:mem?mode=memory&uri=true", None),
        ("sqlite://", None),
    ],
)
def test_sqlite_file(url: str, file: str | None) -> None:
    assert sqlite_file(url) == file


def test_skip_locked_claimers_never_share_a_row(database: Database) -> None:
    with database.write() as session:
        session.execute(
            insert(DigestSender),
            [{"id": i, "host": "h", "pid": 1, "started_at": T0, "heartbeat_at": T0} for i in "ab"],
        )
    first_free = select(DigestSender.id).order_by(DigestSender.id).limit(1)
    claim = database.ops.skip_locked(first_free, DigestSender)
    if database.ops.features.serial_writes:
        # One writer at a time: a claim in a write transaction needs no row lock.
        assert claim is first_free
        with database.write() as session:
            assert session.scalar(claim) == "a"
        return
    with database.write() as first, database.write() as second:
        assert first.scalar(claim) == "a"
        assert second.scalar(claim) == "b"  # "a" is locked by the first claimer: skipped
        assert second.scalar(first_free) == "a"  # a plain read is not held up by the lock


def test_connect_async_gives_an_autocommit_connection_where_writes_are_not_serial(
    database: Database,
) -> None:
    ops = database.ops
    if ops.features.serial_writes:
        with pytest.raises(NotImplementedError):
            asyncio.run(ops.connect_async(database.engine.url))
        return

    async def settings() -> tuple[bool, str, str]:
        connection = await ops.connect_async(database.engine.url, wait_for_flush=False)
        plain = await ops.connect_async(database.engine.url)
        try:
            lazy = await (await connection.execute("SHOW synchronous_commit")).fetchone()
            default = await (await plain.execute("SHOW synchronous_commit")).fetchone()
            return connection.autocommit, lazy[0], default[0]
        finally:
            await connection.close()
            await plain.close()

    assert asyncio.run(settings()) == (True, "off", "on")


@pytest.mark.parametrize("wanted", [[], [1], [2, 1], [1, 99], [99], [3, 3, 2]])
def test_among_bound_selects_what_among_selects(database: Database, wanted: list[int]) -> None:
    """A statement built once with ``among_bound`` and run with a list (empty, missing ids,
    repeated, any order) finds the rows ``among`` finds."""
    with database.write() as session:
        session.execute(
            insert(Paper), [{"id": i, "arxiv_id": f"2501.0000{i}", "title": "t"} for i in (1, 2, 3)]
        )
    built_once = select(Paper.id).where(database.ops.among_bound(Paper.id, "wanted"))
    with database.read() as session:
        for _ in range(2):  # the same statement object, run again
            bound = set(session.connection().execute(built_once, {"wanted": wanted}).scalars())
            direct = set(
                session.scalars(select(Paper.id).where(database.ops.among(Paper.id, wanted)))
            )
            assert bound == direct == set(wanted) & {1, 2, 3}
