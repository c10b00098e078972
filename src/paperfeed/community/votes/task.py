"""The scheduler of databases that do not serialise writes in process (PostgreSQL): batches
run in a task on the worker's event loop, over a connection of its own (``ops.connect_async``).

A batch is one statement (``cte.py``), one round trip; the task awaits it while the loop
serves other requests, and the votes that arrive meanwhile make the next batch. Blocking
round trips on the loop stopped every request of the worker, and on a writer thread each
round trip waited for the GIL held by the busy loop (see benchmarks/RESULTS.md, "Upvotes
under load")."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from paperfeed.community.votes import apply
from paperfeed.community.votes.rule import Vote, VoteResult
from paperfeed.community.votes.schedulers import MAX_BATCH, Waiter, settle_all
from paperfeed.store.db import Database, lost_connection

log = logging.getLogger(__name__)


class TaskScheduler:
    """Votes queued by requests, applied by a writer task on the loop."""

    # Batches in flight at once per worker, each on its own connection: more than one meant
    # smaller batches, more database CPU and fewer reads served, with no better latency.
    CONNECTIONS = 1
    # A batch waits until its oldest vote is this old before it is sent, so votes that
    # arrive a few milliseconds apart share one statement (one round trip, one wake-up of
    # the writer task, one commit) instead of each paying for its own; the price is that a
    # vote alone answers this much later (measured in benchmarks/RESULTS.md).
    GATHER_SECONDS = 0.005

    def __init__(
        self, db: Database, gather_seconds: float = GATHER_SECONDS, connections: int = CONNECTIONS
    ) -> None:
        self.db = db
        self.gather_seconds = gather_seconds
        self.connections = connections
        self._pending: list[Waiter] = []
        # The writer tasks, their loop and the event that wakes them.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._oldest_at = 0.0  # when the oldest vote of the queue arrived (loop time)

    async def set_vote(self, vote: Vote) -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bool]] = loop.create_future()
        if not self._pending:
            self._oldest_at = loop.time()
        self._pending.append((vote, future))
        self._ensure_task(loop)
        self._wake.set()
        return await future

    def close(self) -> None:
        """Nothing to do here: the writer task ends with its loop (``aclose`` waits)."""

    async def aclose(self) -> None:
        if self._tasks and self._loop is asyncio.get_running_loop():
            self._closing = True
            self._wake.set()
            await asyncio.gather(*self._tasks)

    def _ensure_task(self, loop: asyncio.AbstractEventLoop) -> None:
        # One task per loop. A server worker has one loop for its life; a test client may
        # run each request on a fresh loop, and a connection belongs to the loop that made it.
        if self._loop is not loop or not self._tasks or any(t.done() for t in self._tasks):
            self._loop = loop
            self._wake = asyncio.Event()
            self._closing = False
            self._tasks = [
                loop.create_task(self._write_batches(), name=f"paperfeed-votes-{n}")
                for n in range(self.connections)
            ]

    async def _write_batches(self) -> None:
        connection: Any = None
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await self._gather()
                batch = self._pending[:MAX_BATCH]
                del self._pending[: len(batch)]
                self._oldest_at = 0.0
                try:
                    connection, results = await self._apply(connection, [v for v, _ in batch])
                    outcomes: list[VoteResult | BaseException] = list(results)
                except Exception as exc:  # the transaction failed: every vote in it failed
                    log.exception("applying %d votes failed", len(batch))
                    outcomes = [exc] * len(batch)
                    if connection is not None:  # the server may have restarted: reconnect
                        await connection.close()
                        connection = None
                settle_all(batch, outcomes)
        finally:
            if connection is not None:
                await connection.close()

    async def _gather(self) -> None:
        """Let the votes of the next few milliseconds join this batch."""
        wait = self._oldest_at + self.gather_seconds - asyncio.get_running_loop().time()
        if wait > 0 and not self._closing and len(self._pending) < MAX_BATCH:
            await asyncio.sleep(wait)

    async def _apply(self, connection: Any, votes: list[Vote]) -> tuple[Any, list[VoteResult]]:
        """Apply ``votes`` on ``connection`` (a new one when None or closed); the connection
        to keep, and the answers. A lost connection (a terminated backend, a restarted
        server) is replaced and the batch applied once more: each vote sets a state (up or
        not), so the batch is idempotent whether or not the lost statement committed."""
        ops = self.db.ops
        for attempt in (1, 2):
            try:
                if connection is None or connection.closed:
                    # COMMIT need not wait for the log flush: the trade SQLite's WAL makes
                    # at synchronous=NORMAL. A crash of the database server may lose the
                    # last moment's votes, never half of one (rows and counters together).
                    connection = await ops.connect_async(self.db.engine.url, wait_for_flush=False)
                return connection, await apply.set_votes_async(connection, ops, votes)
            except Exception as exc:
                if attempt == 2 or not lost_connection(exc):
                    raise
                log.warning("votes: the database connection was lost (%s); once more", exc)
                if connection is not None:
                    await connection.close()
                connection = None
        raise AssertionError("unreachable")  # pragma: no cover
