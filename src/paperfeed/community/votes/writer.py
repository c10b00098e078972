"""``VoteWriter``: the votes of every request of one worker, applied in batches by the
scheduler the database calls for (``db.ops.features.serial_writes``)."""

from __future__ import annotations

from paperfeed.community.votes.rule import Voter, no_paper
from paperfeed.community.votes.schedulers import LoopScheduler, Scheduler
from paperfeed.community.votes.task import TaskScheduler
from paperfeed.papers.ids import is_arxiv_id
from paperfeed.store.db import Database


class VoteWriter:
    """Applies the votes of every request of one worker in batches.

    Why: with many users voting at once, one write transaction per request means one turn
    of the database's write lock (and on SQLite one commit) per vote, taken by dozens of
    thread-pool threads that each wait for the GIL while the event loop serves reads: under
    a read flood votes starved (p99 of seconds). Here a request queues its vote and awaits
    a future; whatever is queued is applied in one transaction (``set_votes``: a handful of
    statements per batch). Under light load a batch is one vote.

    Where a batch runs: where the database serialises writes in process (SQLite), on the
    event loop itself (``LoopScheduler``); elsewhere (PostgreSQL) in a task on the loop, on
    its own connection (``TaskScheduler``, ``task.py``).
    """

    def __init__(
        self,
        db: Database,
        *,
        gather_seconds: float = TaskScheduler.GATHER_SECONDS,
        connections: int = TaskScheduler.CONNECTIONS,
    ) -> None:
        self.db = db
        if db.ops.features.serial_writes:
            self.scheduler: Scheduler = LoopScheduler(db)
        else:
            self.scheduler = TaskScheduler(db, gather_seconds, connections)

    async def set_vote(self, voter: Voter, arxiv_id: str, up: bool) -> tuple[int, bool]:
        """Apply one vote with the others of this moment; raises the ``CommunityError`` of a
        refused vote (``NotFound``, ``TokenRefused``, ``Forbidden``)."""
        if not is_arxiv_id(arxiv_id):
            raise no_paper(arxiv_id)  # refused before it is queued (see ``rule.impossible``)
        return await self.scheduler.set_vote((voter, arxiv_id, up))

    def close(self) -> None:
        """Apply what is still queued on the loop (waiting for locks: the worker is
        stopping). A writer task ends with its loop; ``aclose`` also waits for its queue."""
        self.scheduler.close()

    async def aclose(self) -> None:
        """``close``, and apply a writer task's queue and stop the task."""
        await self.scheduler.aclose()
