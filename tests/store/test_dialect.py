"""``db.ops``: each operation on the database under test (SQLite, or PostgreSQL when
PAPERFEED_TEST_DATABASE_URL names one)."""

from __future__ import annotations

import asyncio

import pytest

from paperfeed.store.db import Database


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
