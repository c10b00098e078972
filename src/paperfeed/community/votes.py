"""Upvotes: one per user per paper. The vote row and ``papers.user_upvotes`` change in one
transaction, so the feed's live count (imported + user) is always the number of rows."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import Counter
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from paperfeed.community import NotFound
from paperfeed.store.db import Database, WriteBusy
from paperfeed.store.models import Paper, Upvote, utcnow

log = logging.getLogger(__name__)

# Built once: the hot path runs these Core statements on the session's connection, so no
# statement is constructed or ORM-compiled per vote (that was about half of a vote's CPU).
# Every statement takes a whole batch of votes, so a batch costs a fixed handful of round
# trips whatever its size.
_TABLE = cast(Table, Upvote.__table__)
_PAPERS = cast(Table, Paper.__table__)
_PAPER_IDS = select(_PAPERS.c.arxiv_id, _PAPERS.c.id).where(
    _PAPERS.c.arxiv_id.in_(bindparam("arxiv_ids", expanding=True))
)
_PAIRS = tuple_(_TABLE.c.user_id, _TABLE.c.paper_id)
# Executed with a list of rows; SQLAlchemy sends them as multi-row VALUES. RETURNING, not
# rowcount, says which rows were really new: psycopg reports -1 for ON CONFLICT DO NOTHING,
# and another worker may have inserted the same vote a moment ago.
_INSERT = {
    name: dialect_insert(_TABLE)
    .values(user_id=bindparam("uid"), paper_id=bindparam("pid"), created_at=bindparam("at"))
    .on_conflict_do_nothing()
    .returning(_TABLE.c.user_id, _TABLE.c.paper_id)
    for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
_DELETE = (
    delete(_TABLE)
    .where(_PAIRS.in_(bindparam("pairs", expanding=True)))
    .returning(_TABLE.c.user_id, _TABLE.c.paper_id)
)
_BUMP = (
    update(_PAPERS)
    .where(_PAPERS.c.id == bindparam("pid"))
    .values(user_upvotes=_PAPERS.c.user_upvotes + bindparam("step"))
    .returning(_PAPERS.c.imported_upvotes + _PAPERS.c.user_upvotes)
)
_TOTALS = select(_PAPERS.c.id, _PAPERS.c.imported_upvotes + _PAPERS.c.user_upvotes).where(
    _PAPERS.c.id.in_(bindparam("pids", expanding=True))
)


def set_vote(db: Database, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool]:
    """Upvote (``up``) or take the vote back; idempotent. Returns (paper's upvotes, voted)."""
    result = set_votes(db, [(user_id, arxiv_id, up)])[0]
    if isinstance(result, NotFound):
        raise result
    return result


Vote = tuple[int, str, bool]  # (user id, arXiv id, up)
VoteResult = tuple[int, bool] | NotFound


def set_votes(db: Database, batch: Sequence[Vote], *, wait: bool = True) -> list[VoteResult]:
    """Apply votes in order in one write transaction (one commit, one turn of the write lock
    for all of them). A vote on an unknown paper gets ``NotFound`` in its place; the others
    still apply. Each vote's answer carries the paper's total after the whole batch.
    ``wait=False``: see ``Database.write`` (raises ``WriteBusy``)."""
    with db.write_connection(wait=wait) as conn:
        return _apply_votes(db, conn, batch)


def _apply_votes(db: Database, conn: Connection, batch: Sequence[Vote]) -> list[VoteResult]:
    arxiv_ids = sorted({arxiv_id for _, arxiv_id, _ in batch})
    paper_ids: dict[str, int] = {
        row.arxiv_id: row.id for row in conn.execute(_PAPER_IDS, {"arxiv_ids": arxiv_ids})
    }
    # Only each (user, paper)'s last wish counts; the statements then say what changed.
    wanted: dict[tuple[int, int], bool] = {}
    for user_id, arxiv_id, up in batch:
        if arxiv_id in paper_ids:
            wanted[(user_id, paper_ids[arxiv_id])] = up
    delta: Counter[int] = Counter()
    now = utcnow()
    new = [{"uid": u, "pid": p, "at": now} for (u, p), up in sorted(wanted.items()) if up]
    gone = [pair for pair, up in sorted(wanted.items()) if not up]
    if new:
        insert = _INSERT["sqlite" if db.is_sqlite else "postgresql"]
        for _, pid in conn.execute(insert, new if len(new) > 1 else new[0]):
            delta[pid] += 1
    if gone:
        for _, pid in conn.execute(_DELETE, {"pairs": gone}):
            delta[pid] -= 1
    totals: dict[int, int] = {}
    for pid, step in sorted(delta.items()):
        if step:
            totals[pid] = int(conn.execute(_BUMP, {"pid": pid, "step": step}).scalar_one())
    rest = sorted({pid for _, pid in wanted} - totals.keys())
    if rest:
        totals.update((row[0], int(row[1])) for row in conn.execute(_TOTALS, {"pids": rest}))
    results: list[VoteResult] = []
    for _, arxiv_id, up in batch:
        if arxiv_id in paper_ids:
            results.append((totals[paper_ids[arxiv_id]], up))
        else:
            results.append(NotFound(f"No paper {arxiv_id[:40]} on this site."))
    return results


_Waiter = tuple[Vote, "asyncio.Future[tuple[int, bool]]"]


class VoteWriter:
    """Applies the votes of every request of one worker in batches.

    Why: with many users voting at once, one write transaction per request means one turn
    of the database's write lock (and on SQLite one commit) per vote, taken by dozens of
    thread-pool threads that each wait for the GIL while the event loop serves reads: under
    a read flood votes starved (p99 of seconds). Here a request queues its vote and awaits
    a future; whatever is queued is applied in one transaction (``set_votes``: a handful of
    statements per batch). Under light load a batch is one vote.

    Where a batch runs:
    - SQLite: on the event loop itself, between requests. A batch is local work of a few
      hundred microseconds (WAL, ``synchronous=NORMAL``: no fsync per commit), and no thread
      means no GIL hand-offs with the loop. The loop must never wait for a lock, so a batch
      only *tries* the write lock (``write(wait=False)``); while another writer (the other
      worker, an ingest) holds it, the batch is retried a millisecond later.
    - PostgreSQL: on one writer thread per worker. Each statement is a round trip and each
      COMMIT waits for the server's WAL flush; on the loop those waits stopped every request
      of the worker (p50 73 ms at 480 votes/s), on a thread they release the GIL.
    """

    MAX_BATCH = 256
    RETRY_SECONDS = 0.001

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[_Waiter] = []
        self._flush_scheduled = False
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def set_vote(self, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bool]] = loop.create_future()
        vote: Vote = (user_id, arxiv_id, up)
        waiter: _Waiter = (vote, future)
        if self.db.is_sqlite:
            if not self._pending:
                # Nothing queued: apply it now, within this turn of the loop, so the answer
                # goes out in the same turn (every extra turn is a round of all the other
                # connections' requests under load). Only a busy lock queues it.
                try:
                    result = set_votes(self.db, [vote], wait=False)[0]
                except WriteBusy:
                    pass
                else:
                    if isinstance(result, NotFound):
                        raise result
                    return result
            self._pending.append(waiter)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush_on_loop, loop)
        else:
            self._ensure_thread()
            self._queue.put(waiter)
        return await future

    def close(self) -> None:
        """Apply what is still queued (waiting for locks: the worker is stopping)."""
        while self._pending:
            batch, self._pending = self._pending[: self.MAX_BATCH], self._pending[self.MAX_BATCH :]
            self._apply(batch, wait=True)
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)

    # --- SQLite: on the event loop -----------------------------------------------------------

    def _flush_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending[: self.MAX_BATCH]
        if batch and not self._apply(batch, wait=False):
            loop.call_later(self.RETRY_SECONDS, self._flush_on_loop, loop)  # lock busy
            return
        del self._pending[: len(batch)]
        if self._pending:
            loop.call_soon(self._flush_on_loop, loop)
        else:
            self._flush_scheduled = False

    # --- PostgreSQL: on a writer thread ------------------------------------------------------

    def _ensure_thread(self) -> None:
        # Started on first use, in the process that serves (never across a fork).
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="paperfeed-votes", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._apply(batch, wait=True)

    # --- both ----------------------------------------------------------------------------------

    def _apply(self, batch: list[_Waiter], *, wait: bool) -> bool:
        """Apply ``batch`` and settle its futures; False (nothing done) if the lock is busy."""
        try:
            outcomes: list[VoteResult | BaseException] = list(
                set_votes(self.db, [vote for vote, _ in batch], wait=wait)
            )
        except WriteBusy:
            return False
        except Exception as exc:  # the transaction failed: every vote in it failed
            log.exception("applying %d votes failed", len(batch))
            outcomes = [exc] * len(batch)
        here = _running_loop()  # None on the writer thread
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.get_loop() is here:
                _settle(future, outcome)
            else:
                future.get_loop().call_soon_threadsafe(_settle, future, outcome)
        return True


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _settle(future: asyncio.Future[tuple[int, bool]], outcome: VoteResult | BaseException) -> None:
    if future.done():  # the request went away (client disconnected)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def voted_ids(session: Session, user_id: int, arxiv_ids: list[str]) -> set[str]:
    """Which of ``arxiv_ids`` the user has upvoted."""
    if not arxiv_ids:
        return set()
    return set(
        session.scalars(
            select(Paper.arxiv_id)
            .join(Upvote, Upvote.paper_id == Paper.id)
            .where(Upvote.user_id == user_id, Paper.arxiv_id.in_(arxiv_ids))
        )
    )
