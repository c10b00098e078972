"""Upvotes: one per user per paper. The vote row and ``papers.user_upvotes`` change in one
transaction, so the feed's live count (imported + user) is always the number of rows."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.community import CommunityError, Forbidden, NotFound
from paperfeed.community.tokens import READ_ONLY, TOKEN_REFUSED
from paperfeed.store.db import Database, WriteBusy, driver_sql
from paperfeed.store.models import Paper, Upvote, utcnow

log = logging.getLogger(__name__)


def set_vote(db: Database, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool]:
    """Upvote (``up``) or take the vote back; idempotent. Returns (paper's upvotes, voted)."""
    result = set_votes(db, [(user_id, arxiv_id, up)])[0]
    if isinstance(result, CommunityError):
        raise result
    return result


class TokenRefused(CommunityError):
    """The API token is unknown or revoked, or its user is banned (HTTP 401)."""


@dataclass(frozen=True)
class ByToken:
    """A voter known only by an API token (its SHA-256, as stored): the token is checked in
    the vote's own transaction, so an API vote costs no separate lookup and a token revoked
    a moment ago can no longer vote."""

    token_hash: str


Voter = int | ByToken  # a user id (a logged-in browser), or an API token
Vote = tuple[Voter, str, bool]  # (voter, arXiv id, up)
VoteResult = tuple[int, bool] | CommunityError


def set_votes(db: Database, batch: Sequence[Vote], *, wait: bool = True) -> list[VoteResult]:
    """Apply votes in order in one write transaction (one commit, one turn of the write lock
    for all of them). A vote on an unknown paper gets ``NotFound`` in its place, one by a
    refused token ``TokenRefused`` or ``Forbidden`` (read-only); the others still apply.
    Each vote's answer carries the paper's total after the whole batch.
    ``wait=False``: see ``Database.write`` (raises ``WriteBusy``)."""
    with db.raw_write(wait=wait) as cursor:
        plan = _plan_votes(batch, sqlite=db.is_sqlite)
        try:
            statements, _ = next(plan)
            while True:
                rows: list[Rows] = []
                for statement in statements:
                    cursor.execute(*statement)
                    rows.append(cursor.fetchall())
                statements, _ = plan.send(rows)
        except StopIteration as done:
            return cast(list[VoteResult], done.value)


async def set_votes_async(connection: Any, batch: Sequence[Vote]) -> list[VoteResult]:
    """``set_votes`` on a psycopg ``AsyncConnection`` (PostgreSQL): each round of
    statements goes in one pipelined round trip, awaited, so the event loop serves other
    requests meanwhile. Commits, or rolls back and raises."""
    plan = _plan_votes(batch, sqlite=False)
    committed = False
    try:
        try:
            statements, final = next(plan)
            while True:
                cursors = [connection.cursor() for _ in statements]
                async with connection.pipeline():
                    for cursor, statement in zip(cursors, statements, strict=True):
                        await cursor.execute(*statement)
                    if final:
                        await connection.commit()
                        committed = True
                rows = [await cursor.fetchall() for cursor in cursors]
                for cursor in cursors:
                    await cursor.close()
                statements, final = plan.send(rows)
        except StopIteration as done:
            results = cast(list[VoteResult], done.value)
        if not committed:
            await connection.commit()
    except BaseException:
        if not committed:
            await connection.rollback()
        raise
    return results


# Votes are the hottest write, so they run the driver's own SQL on a bare cursor
# (``Database.raw_write``): through SQLAlchemy Core the same statements cost ~5x the CPU.
# Every statement takes a whole batch, so a batch costs a fixed handful of statements (plus
# one per changed paper) whatever its size. RETURNING, not rowcount, says which rows really
# changed: psycopg reports -1 for ON CONFLICT DO NOTHING, and another worker may have
# inserted the same vote a moment ago.


def _marks(n: int, width: int = 1) -> str:
    row = "?" if width == 1 else "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * n)


Statement = tuple[str, list[Any]]
Rows = list[tuple[Any, ...]]
Round = tuple[list[Statement], bool]  # statements, and whether the transaction ends there


def _plan_votes(
    batch: Sequence[Vote], *, sqlite: bool
) -> Generator[Round, list[Rows], list[VoteResult]]:
    """The statements of one batch, without I/O, in three rounds: each round's statements
    are independent of each other, so PostgreSQL sends a round in one pipelined round trip
    (four with the COMMIT, whatever the batch's size); SQLite runs them one by one. Each
    round is yielded and its statements' rows (each returns rows) are sent back, so one
    plan serves the blocking SQLite cursor and PostgreSQL's async connection. The last
    round says so, so that PostgreSQL can pipeline the COMMIT with it."""
    if not batch:
        return []

    def sql(text: str) -> str:
        return driver_sql(text, sqlite=sqlite)

    # Round 1: who votes (tokens), on what (papers).
    hashes = sorted({voter.token_hash for voter, _, _ in batch if isinstance(voter, ByToken)})
    arxiv_ids = sorted({arxiv_id for _, arxiv_id, _ in batch})
    # PostgreSQL locks the batch's papers here, in id order: its later statements then
    # touch only rows of papers it holds, so two workers' batches can never deadlock.
    lock = "" if sqlite else " ORDER BY id FOR UPDATE"
    lookups = [
        (
            sql(
                f"SELECT arxiv_id, id FROM papers WHERE arxiv_id IN ({_marks(len(arxiv_ids))})"
                + lock
            ),
            list(arxiv_ids),
        )
    ]
    if hashes:
        lookups.append(
            (
                sql(
                    "SELECT t.token_hash, u.id, u.is_banned, t.scope FROM api_tokens t "
                    "JOIN users u ON u.id = t.user_id "
                    f"WHERE t.token_hash IN ({_marks(len(hashes))}) AND t.revoked_at IS NULL"
                ),
                list(hashes),
            )
        )
    found = yield lookups, False
    paper_ids: dict[str, int] = {arxiv_id: paper_id for arxiv_id, paper_id in found[0]}
    refused: dict[str, CommunityError] = {}
    by_token: dict[str, int] = {}
    for token_hash, user_id, is_banned, scope in found[1] if hashes else []:
        if is_banned:
            continue  # as if unknown
        if scope == "read":
            refused[token_hash] = Forbidden(READ_ONLY)
        else:
            by_token[token_hash] = user_id
    for token_hash in hashes:
        if token_hash not in by_token:
            refused.setdefault(token_hash, TokenRefused(TOKEN_REFUSED))

    def user_of(voter: Voter) -> int | CommunityError:
        if isinstance(voter, ByToken):
            user = by_token.get(voter.token_hash)
            return refused[voter.token_hash] if user is None else user
        return voter

    votes = [(user_of(voter), arxiv_id, up) for voter, arxiv_id, up in batch]
    # Only each (user, paper)'s last wish counts; the statements then say what changed.
    wanted: dict[tuple[int, int], bool] = {}
    for user, arxiv_id, up in votes:
        if isinstance(user, int) and arxiv_id in paper_ids:
            wanted[(user, paper_ids[arxiv_id])] = up

    # Round 2: the vote rows. Pairs in sorted order, so two workers' batches take the
    # rows' locks in the same order (no deadlock on PostgreSQL).
    new = [pair for pair, up in sorted(wanted.items()) if up]
    gone = [pair for pair, up in sorted(wanted.items()) if not up]
    changes: list[Statement] = []
    if new:
        # SQLAlchemy's DateTime text on SQLite (microseconds always written); a datetime on
        # PostgreSQL.
        now = utcnow()
        at: Any = now.isoformat(" ", "microseconds") if sqlite else now
        changes.append(
            (
                sql(
                    "INSERT INTO upvotes (user_id, paper_id, created_at) "
                    f"VALUES {_marks(len(new), 3)} ON CONFLICT DO NOTHING RETURNING paper_id"
                ),
                [value for user_id, paper_id in new for value in (user_id, paper_id, at)],
            )
        )
    if gone:
        changes.append(
            (
                sql(
                    "DELETE FROM upvotes WHERE (user_id, paper_id) IN "
                    f"(VALUES {_marks(len(gone), 2)}) RETURNING paper_id"
                ),
                [value for pair in gone for value in pair],
            )
        )
    if changes and not sqlite:
        # One round trip for the rest: the counters change in the same statement as the
        # rows (data-modifying CTEs), and the totals are read after it, with the COMMIT.
        done = yield _pg_changes(changes, sorted({pid for _, pid in wanted})), True
        return _answers(votes, paper_ids, {pid: int(total) for pid, total in done[-1]})
    delta: Counter[int] = Counter()
    if changes:
        changed = yield changes, False
        for (pid,) in changed[0] if new else []:
            delta[pid] += 1
        for (pid,) in changed[-1] if gone else []:
            delta[pid] -= 1

    # Round 3: the counters of the papers whose votes changed (in id order, for the locks),
    # and the totals of the others.
    bumps = sorted((pid, step) for pid, step in delta.items() if step)
    rest = sorted({pid for _, pid in wanted} - {pid for pid, _ in bumps})
    counts: list[Statement] = [
        (
            sql(
                "UPDATE papers SET user_upvotes = user_upvotes + ? WHERE id = ? "
                "RETURNING id, imported_upvotes + user_upvotes"
            ),
            [step, pid],
        )
        for pid, step in bumps
    ]
    if rest:
        counts.append(
            (
                sql(
                    "SELECT id, imported_upvotes + user_upvotes FROM papers "
                    f"WHERE id IN ({_marks(len(rest))})"
                ),
                list(rest),
            )
        )
    totals: dict[int, int] = {}
    if counts:
        for rows in (yield counts, True):
            totals.update((pid, int(total)) for pid, total in rows)

    return _answers(votes, paper_ids, totals)


def _answers(
    votes: list[tuple[int | CommunityError, str, bool]],
    paper_ids: dict[str, int],
    totals: dict[int, int],
) -> list[VoteResult]:
    results: list[VoteResult] = []
    for user, arxiv_id, up in votes:
        if not isinstance(user, int):
            results.append(user)
        elif arxiv_id in paper_ids:
            results.append((totals[paper_ids[arxiv_id]], up))
        else:
            results.append(NotFound(f"No paper {arxiv_id[:40]} on this site."))
    return results


def _pg_changes(changes: list[Statement], paper_ids: list[int]) -> list[Statement]:
    """PostgreSQL: the INSERT and/or DELETE of ``changes`` wrapped in one statement that
    also moves the papers' counters by what they really changed, then the totals."""
    parts = [f"c{n} AS ({text} )" for n, (text, _) in enumerate(changes)]
    steps = " UNION ALL ".join(
        f"SELECT paper_id, {'1' if text.startswith('INSERT') else '-1'} AS step FROM c{n}"
        for n, (text, _) in enumerate(changes)
    )
    statement = (
        f"WITH {', '.join(parts)}, "
        f"d AS (SELECT paper_id, sum(step) AS step FROM ({steps}) s GROUP BY paper_id) "
        "UPDATE papers p SET user_upvotes = p.user_upvotes + d.step FROM d "
        "WHERE p.id = d.paper_id AND d.step <> 0 RETURNING p.id"
    )
    params = [value for _, values in changes for value in values]
    totals = driver_sql(
        "SELECT id, imported_upvotes + user_upvotes FROM papers "
        f"WHERE id IN ({_marks(len(paper_ids))})",
        sqlite=False,
    )
    return [(statement, params), (totals, list(paper_ids))]


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
    - SQLite: on the event loop itself, between requests. A batch is local work of about a
      hundred microseconds (WAL, ``synchronous=NORMAL``: no fsync per commit), and no thread
      means no GIL hand-offs with the loop. The loop must never wait for a lock, so a batch
      only *tries* the write lock (``write(wait=False)``); while another writer (the other
      worker, an ingest) holds it, the batch is retried a millisecond later.
    - PostgreSQL: in a task on the same loop, over its own psycopg ``AsyncConnection``. Each
      statement is a round trip and each COMMIT waits for the server's WAL flush; the task
      awaits them while the loop serves other requests, and the votes that arrive meanwhile
      make the next batch. (Blocking round trips on the loop stopped every request of the
      worker: p50 73 ms at 480 votes/s. On a writer thread each round trip waited for the
      GIL from the busy loop, up to the 5 ms switch interval: under a read flood votes fell
      to 440/s at p99 0.4-0.7 s.)
    """

    MAX_BATCH = 256
    RETRY_SECONDS = 0.001
    # PostgreSQL: batches in flight at once per worker, each on its own connection. Two
    # were measured under a read flood: smaller batches, more database CPU, reads kept
    # 77-82 % instead of 88-89 %, and no better latency.
    PG_CONNECTIONS = 1

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[_Waiter] = []
        self._flush_scheduled = False
        # PostgreSQL: the writer task, its loop and the event that wakes it.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._closing = False

    async def set_vote(self, voter: Voter, arxiv_id: str, up: bool) -> tuple[int, bool]:
        """Apply one vote with the others of this moment; raises the ``CommunityError`` of a
        refused vote (``NotFound``, ``TokenRefused``, ``Forbidden``)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, bool]] = loop.create_future()
        vote: Vote = (voter, arxiv_id, up)
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
                    if isinstance(result, CommunityError):
                        raise result
                    return result
            self._pending.append(waiter)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush_on_loop, loop)
        else:
            self._pending.append(waiter)
            self._ensure_task(loop)
            self._wake.set()
        return await future

    def close(self) -> None:
        """Apply what SQLite still has queued (waiting for locks: the worker is stopping).
        A PostgreSQL writer ends with its loop; ``aclose`` also waits for its queue."""
        while self._pending and self.db.is_sqlite:
            batch, self._pending = self._pending[: self.MAX_BATCH], self._pending[self.MAX_BATCH :]
            self._apply(batch, wait=True)

    async def aclose(self) -> None:
        """``close``, and on PostgreSQL apply the queue and stop the writer task."""
        self.close()
        if self._tasks and self._loop is asyncio.get_running_loop():
            self._closing = True
            self._wake.set()
            await asyncio.gather(*self._tasks)

    # --- SQLite: on the event loop -----------------------------------------------------------

    def _flush_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending[: self.MAX_BATCH]
        if batch and self._apply(batch, wait=False) == "busy":
            loop.call_later(self.RETRY_SECONDS, self._flush_on_loop, loop)  # lock busy
            return
        del self._pending[: len(batch)]
        if self._pending:
            loop.call_soon(self._flush_on_loop, loop)
        else:
            self._flush_scheduled = False

    def _apply(self, batch: list[_Waiter], *, wait: bool) -> Literal["done", "busy"]:
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
        _settle_all(batch, outcomes)
        return "done"

    # --- PostgreSQL: a task on the loop ------------------------------------------------------

    def _ensure_task(self, loop: asyncio.AbstractEventLoop) -> None:
        # One task per loop. A server worker has one loop for its life; a test client may
        # run each request on a fresh loop, and a connection belongs to the loop that made it.
        if self._loop is not loop or not self._tasks or any(t.done() for t in self._tasks):
            self._loop = loop
            self._wake = asyncio.Event()
            self._closing = False
            self._tasks = [
                loop.create_task(self._write_batches(), name=f"paperfeed-votes-{n}")
                for n in range(self.PG_CONNECTIONS)
            ]

    async def _write_batches(self) -> None:
        import psycopg

        conninfo = self.db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        connection: psycopg.AsyncConnection[Any] | None = None
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                batch = self._pending[: self.MAX_BATCH]
                del self._pending[: len(batch)]
                try:
                    if connection is None or connection.closed:
                        connection = await psycopg.AsyncConnection.connect(conninfo)
                        # Votes only: COMMIT returns without waiting for the WAL flush, the
                        # trade SQLite's WAL makes at synchronous=NORMAL. A crash of the
                        # database server may lose the last fraction of a second of votes,
                        # never half of one (rows and counters commit together).
                        await connection.execute("SET synchronous_commit = off")
                        await connection.commit()
                    outcomes: list[VoteResult | BaseException] = list(
                        await set_votes_async(connection, [vote for vote, _ in batch])
                    )
                except Exception as exc:  # the transaction failed: every vote in it failed
                    log.exception("applying %d votes failed", len(batch))
                    outcomes = [exc] * len(batch)
                    if connection is not None:  # the server may have restarted: reconnect
                        await connection.close()
                        connection = None
                _settle_all(batch, outcomes)
        finally:
            if connection is not None:
                await connection.close()


def _settle_all(batch: list[_Waiter], outcomes: Sequence[VoteResult | BaseException]) -> None:
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        _settle(future, outcome)


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
