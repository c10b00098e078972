"""``db.ops`` on the database under test (SQLite, or PostgreSQL with
PAPERFEED_TEST_DATABASE_URL): each operation does what domain code relies on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from paperfeed.store.db import Database
from paperfeed.store.models import DigestSender

T0 = dt.datetime(2025, 3, 7, 6, 0)


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
