"""Upvotes: one per user per paper. The vote row and ``papers.user_upvotes`` change in one
transaction, so the feed's live count (imported + user) is always the number of rows."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
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
# PostgreSQL, on the event loop: give up on a row lock held elsewhere after this long (the
# batch is then retried) rather than block the loop; SQLSTATE of that give-up.
_LOCK_TIMEOUT = text("SET LOCAL lock_timeout = '20ms'")
LOCK_NOT_AVAILABLE = "55P03"
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
    try:
        with db.write_connection(wait=wait) as conn:
            if not wait and not db.is_sqlite:
                conn.execute(_LOCK_TIMEOUT)
            return _apply_votes(db, conn, batch)
    except OperationalError as exc:
        if not wait and getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise WriteBusy from exc
        raise


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
    """Applies the votes of every request of one worker in batches, on its event loop.

    Why: with many users voting at once, one write transaction per request means one turn
    of the database's write lock (and on SQLite one commit) per vote, taken by dozens of
    thread-pool threads that each wait for the GIL while the event loop serves reads: under
    a read flood votes starved (p99 of seconds). Here a request queues its vote and awaits
    a future; whatever is queued is applied in one transaction (``set_votes``: a handful of
    statements per batch) between two turns of the loop. Under light load a batch is one
    vote. No thread means no GIL hand-offs with the loop.

    The loop must never wait for a lock, so a batch only *tries*: on SQLite the write lock
    (``write(wait=False)``), on PostgreSQL row locks with a short ``lock_timeout``. While
    another writer (the other worker, an ingest) holds it, the batch is retried a
    millisecond later and reads keep flowing. What remains blocking is the batch's own work:
    local statements on SQLite, a few loopback round trips on PostgreSQL.
    """

    MAX_BATCH = 256
    RETRY_SECONDS = 0.001

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[_Waiter] = []
        self._flush_scheduled = False

    async def set_vote(self, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bool]] = loop.create_future()
        self._pending.append(((user_id, arxiv_id, up), future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush, loop)
        return await future

    def close(self) -> None:
        """Apply what is still queued, waiting for locks (the worker is stopping)."""
        while self._pending:
            batch, self._pending = self._pending[: self.MAX_BATCH], self._pending[self.MAX_BATCH :]
            self._apply(batch, wait=True)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending[: self.MAX_BATCH]
        if batch and not self._apply(batch, wait=False):
            loop.call_later(self.RETRY_SECONDS, self._flush, loop)  # a lock is busy
            return
        del self._pending[: len(batch)]
        if self._pending:
            loop.call_soon(self._flush, loop)
        else:
            self._flush_scheduled = False

    def _apply(self, batch: list[_Waiter], *, wait: bool) -> bool:
        """Apply ``batch`` and settle its futures; False (nothing done) if a lock is busy."""
        try:
            outcomes: list[VoteResult | BaseException] = list(
                set_votes(self.db, [vote for vote, _ in batch], wait=wait)
            )
        except WriteBusy:
            return False
        except Exception as exc:  # the transaction failed: every vote in it failed
            log.exception("applying %d votes failed", len(batch))
            outcomes = [exc] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            future.get_loop().call_soon_threadsafe(_settle, future, outcome)
        return True


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
