"""``db.ops``: each operation on the database under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from paperfeed.store.db import Database
from paperfeed.store.dialect import LockBusy, sqlite_file

LOCK_KEY = 0x7066746573746C6B  # "pftestlk"


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
