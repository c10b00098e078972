"""Where and when a worker's queued votes are applied: the protocol, and the scheduler that
runs batches on the event loop itself (``task.py`` has the other)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Literal, Protocol

from paperfeed.community import CommunityError
from paperfeed.community.votes.apply import set_votes
from paperfeed.community.votes.rule import Vote, VoteResult
from paperfeed.store.db import Database, WriteBusy

log = logging.getLogger(__name__)

Waiter = tuple[Vote, "asyncio.Future[tuple[int, bool]]"]
MAX_BATCH = 256


class Scheduler(Protocol):
    """Where and when a worker's queued votes are applied."""

    async def set_vote(self, vote: Vote) -> tuple[int, bool]: ...

    def close(self) -> None:
        """Apply what is still queued (the worker is stopping), waiting for locks."""

    async def aclose(self) -> None:
        """``close``, and stop whatever runs the batches."""


class LoopScheduler:
    """Batches run on the event loop itself, between requests: where writes are serialised
    in process, a batch is local work of about a hundred microseconds (SQLite's WAL at
    ``synchronous=NORMAL``: no fsync per commit), and no thread means no GIL hand-offs with
    the loop. The loop must never wait for a lock, so a batch only *tries* the write lock
    (``wait=False``); while another writer (the other worker, an ingest) holds it, the batch
    is retried a millisecond later."""

    RETRY_SECONDS = 0.001

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[Waiter] = []
        self._flush_scheduled = False

    async def set_vote(self, vote: Vote) -> tuple[int, bool]:
        if not self._pending:
            # Nothing queued: apply it now, within this turn of the loop, so the answer goes
            # out in the same turn (every extra turn is a round of all the other connections'
            # requests under load). Only a busy lock queues it.
            try:
                result = set_votes(self.db, [vote], wait=False)[0]
            except WriteBusy:
                pass
            else:
                if isinstance(result, CommunityError):
                    raise result
                return result
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bool]] = loop.create_future()
        self._pending.append((vote, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush, loop)
        return await future

    def close(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            self._apply(batch, wait=True)

    async def aclose(self) -> None:
        self.close()

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending[:MAX_BATCH]
        if batch and self._apply(batch, wait=False) == "busy":
            loop.call_later(self.RETRY_SECONDS, self._flush, loop)
            return
        del self._pending[: len(batch)]
        if self._pending:
            loop.call_soon(self._flush, loop)
        else:
            self._flush_scheduled = False

    def _apply(self, batch: list[Waiter], *, wait: bool) -> Literal["done", "busy"]:
        """Apply ``batch`` and settle its futures ("done"), with the transaction's error if
        it failed; "busy": the lock was taken (``wait=False``), nothing done, the futures
        still pending."""
        try:
            outcomes: list[VoteResult | BaseException] = list(
                set_votes(self.db, [vote for vote, _ in batch], wait=wait)
            )
        except WriteBusy:
            return "busy"
        except Exception as exc:  # the transaction failed: every vote in it failed
            log.exception("applying %d votes failed", len(batch))
            outcomes = [exc] * len(batch)
        settle_all(batch, outcomes)
        return "done"


def settle_all(batch: list[Waiter], outcomes: Sequence[VoteResult | BaseException]) -> None:
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():  # the request went away (client disconnected)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
