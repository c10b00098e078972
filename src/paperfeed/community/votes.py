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
from paperfeed.papers.ids import is_arxiv_id
from paperfeed.store.db import Database, WriteBusy, lost_connection, retry_if_disconnected
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
    bad = _impossible(batch)
    if bad:
        good = [vote for i, vote in enumerate(batch) if i not in bad]
        return _merge(batch, bad, set_votes(db, good, wait=wait))
    if not batch:
        return []
    if not db.is_sqlite:
        # Each vote sets a state, so a batch whose connection was lost is applied again.
        return retry_if_disconnected(lambda: _set_votes_pg(db, batch), "votes")
    with db.raw_write(wait=wait) as cursor:
        if len(batch) == 1:
            return [_sqlite_one(cursor, batch[0])]
        plan = _plan_votes(batch)
        try:
            statements = next(plan)
            while True:
                rows: list[Rows] = []
                for statement in statements:
                    cursor.execute(*statement)
                    rows.append(cursor.fetchall())
                statements = plan.send(rows)
        except StopIteration as done:
            return cast(list[VoteResult], done.value)


def _set_votes_pg(db: Database, batch: Sequence[Vote]) -> list[VoteResult]:
    with db.raw_write() as cursor:
        cursor.execute(*_pg_statement(batch))
        return _pg_answers(batch, cursor.fetchall())


async def set_votes_async(connection: Any, batch: Sequence[Vote]) -> list[VoteResult]:
    """``set_votes`` on a psycopg ``AsyncConnection`` in autocommit mode (PostgreSQL): the
    whole batch is one statement, its own transaction, so one round trip, awaited while the
    event loop serves other requests."""
    bad = _impossible(batch)
    if bad:
        good = [vote for i, vote in enumerate(batch) if i not in bad]
        return _merge(batch, bad, await set_votes_async(connection, good))
    if not batch:
        return []
    cursor = connection.cursor()
    try:
        await cursor.execute(*_pg_statement(batch))
        rows = await cursor.fetchall()
    finally:
        await cursor.close()
    return _pg_answers(batch, rows)


def _impossible(batch: Sequence[Vote]) -> set[int]:
    """Positions of votes on an id no paper can have (a NUL, say). They never reach the
    database: on PostgreSQL one such value fails the whole statement, every vote in it."""
    return {i for i, (_, arxiv_id, _) in enumerate(batch) if not is_arxiv_id(arxiv_id)}


def _merge(batch: Sequence[Vote], bad: set[int], applied: list[VoteResult]) -> list[VoteResult]:
    """The answers of ``batch``: ``NotFound`` at the ``bad`` positions, ``applied`` between."""
    rest = iter(applied)
    return [_no_paper(vote[1]) if i in bad else next(rest) for i, vote in enumerate(batch)]


def _no_paper(arxiv_id: str) -> NotFound:
    return NotFound(f"No paper {arxiv_id[:40]!r} on this site.")


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
PgStatement = tuple[str, list[Any] | dict[str, Any]]  # psycopg: positional or named
Rows = list[tuple[Any, ...]]


def _plan_votes(batch: Sequence[Vote]) -> Generator[list[Statement], list[Rows], list[VoteResult]]:
    """SQLite: the statements of one batch, without I/O, in three rounds (lookups, vote rows,
    counters); each round is yielded and its statements' rows (each returns rows) are sent
    back. PostgreSQL runs the whole batch as one statement instead (``_pg_statement``)."""
    if not batch:
        return []

    # Round 1: who votes (tokens), on what (papers).
    hashes = sorted({voter.token_hash for voter, _, _ in batch if isinstance(voter, ByToken)})
    arxiv_ids = sorted({arxiv_id for _, arxiv_id, _ in batch})
    lookups = [
        (
            f"SELECT arxiv_id, id FROM papers WHERE arxiv_id IN ({_marks(len(arxiv_ids))})",
            list(arxiv_ids),
        )
    ]
    if hashes:
        lookups.append(
            (
                (
                    "SELECT t.token_hash, u.id, u.is_banned, t.scope FROM api_tokens t "
                    "JOIN users u ON u.id = t.user_id "
                    f"WHERE t.token_hash IN ({_marks(len(hashes))}) AND t.revoked_at IS NULL"
                ),
                list(hashes),
            )
        )
    found = yield lookups
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

    # Round 2: the vote rows.
    new = [pair for pair, up in sorted(wanted.items()) if up]
    gone = [pair for pair, up in sorted(wanted.items()) if not up]
    changes: list[Statement] = []
    if new:
        # SQLAlchemy's DateTime text on SQLite (microseconds always written).
        at = utcnow().isoformat(" ", "microseconds")
        changes.append(
            (
                (
                    "INSERT INTO upvotes (user_id, paper_id, created_at) "
                    f"VALUES {_marks(len(new), 3)} ON CONFLICT DO NOTHING RETURNING paper_id"
                ),
                [value for user_id, paper_id in new for value in (user_id, paper_id, at)],
            )
        )
    if gone:
        changes.append(
            (
                (
                    "DELETE FROM upvotes WHERE (user_id, paper_id) IN "
                    f"(VALUES {_marks(len(gone), 2)}) RETURNING paper_id"
                ),
                [value for pair in gone for value in pair],
            )
        )
    delta: Counter[int] = Counter()
    if changes:
        changed = yield changes
        for (pid,) in changed[0] if new else []:
            delta[pid] += 1
        for (pid,) in changed[-1] if gone else []:
            delta[pid] -= 1

    # Round 3: the counters of the papers whose votes changed, and the totals of the others.
    bumps = sorted((pid, step) for pid, step in delta.items() if step)
    rest = sorted({pid for _, pid in wanted} - {pid for pid, _ in bumps})
    counts: list[Statement] = [
        (
            (
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
                (
                    "SELECT id, imported_upvotes + user_upvotes FROM papers "
                    f"WHERE id IN ({_marks(len(rest))})"
                ),
                list(rest),
            )
        )
    totals: dict[int, int] = {}
    if counts:
        for rows in (yield counts):
            totals.update((pid, int(total)) for pid, total in rows)

    return _answers(votes, paper_ids, totals)


# SQLite, a batch of one vote (how votes arrive outside bursts, applied on the loop): the
# voter and the paper in one lookup, then the row and, if it changed, the counter. Two or
# three statements and no planning, instead of ``_plan_votes``' four in three rounds.
# Measured in process, ``set_votes`` of one vote: 73-80 instead of 99-107 microseconds of
# CPU; 88 instead of 118-123 when two connections take turns (as two workers do). The
# same answers (tested one vote at a time against batches).
_SQLITE_LOOKUP = (
    "SELECT p.id, p.imported_upvotes + p.user_upvotes, t.user_id, u.is_banned, t.scope "
    "FROM (SELECT 1) AS one "
    "LEFT JOIN papers p ON p.arxiv_id = ? "
    "LEFT JOIN api_tokens t ON t.token_hash = ? AND t.revoked_at IS NULL "
    "LEFT JOIN users u ON u.id = t.user_id"
)
_SQLITE_ADD = (
    "INSERT INTO upvotes (user_id, paper_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
_SQLITE_REMOVE = "DELETE FROM upvotes WHERE user_id = ? AND paper_id = ?"
_SQLITE_COUNT = (
    "UPDATE papers SET user_upvotes = user_upvotes + ? WHERE id = ? "
    "RETURNING imported_upvotes + user_upvotes"
)


def _sqlite_one(cursor: Any, vote: Vote) -> VoteResult:
    voter, arxiv_id, up = vote
    token = voter.token_hash if isinstance(voter, ByToken) else None
    paper_id, total, token_user, is_banned, scope = cursor.execute(
        _SQLITE_LOOKUP, (arxiv_id, token)
    ).fetchone()
    if token is None:
        user_id = cast(int, voter)
    elif token_user is None or is_banned:
        return TokenRefused(TOKEN_REFUSED)
    elif scope == "read":
        return Forbidden(READ_ONLY)
    else:
        user_id = token_user
    if paper_id is None:
        return NotFound(f"No paper {arxiv_id[:40]!r} on this site.")
    if up:
        # SQLAlchemy's DateTime text on SQLite (microseconds always written).
        at = utcnow().isoformat(" ", "microseconds")
        changed = cursor.execute(_SQLITE_ADD, (user_id, paper_id, at)).rowcount
    else:
        changed = cursor.execute(_SQLITE_REMOVE, (user_id, paper_id)).rowcount
    if changed:
        step = 1 if up else -1
        (total,) = cursor.execute(_SQLITE_COUNT, (step, paper_id)).fetchone()
    return (int(total), up)


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


# PostgreSQL: the whole batch in one statement (data-modifying CTEs), run in autocommit, so
# a batch is one round trip and its own transaction. Under a read flood each round trip
# waits for a turn of the worker's busy event loop; with two rounds and a COMMIT a vote's
# p50 was 14-28 ms. The statement:
# - locks the batch's papers first, in id order (``locked``: its sort reads every row, and so
#   takes every lock, before ``wanted``'s sort lets the first vote row through). Every vote
#   statement touches only vote rows of papers it holds, so two workers' batches never
#   deadlock, and the counters move under the lock;
# - checks the API tokens in the same statement (unknown, revoked or banned: refused; a
#   read-only token: forbidden);
# - keeps each (user, paper)'s last wish, inserts or deletes the rows in (user, paper) order,
#   and moves each paper's counter by what RETURNING says really changed;
# - answers each vote, in order, with its paper's total after the batch (the locked row's,
#   which is the newest version, when this batch did not change it).
# One reading differs from separate statements: the vote rows are found under the
# statement's snapshot, taken before it waited for a paper's lock, so a concurrent request
# of the same user on the same paper may be ordered first. Rows and counters still agree.
_PG_BATCH = """
WITH batch AS (
    SELECT * FROM unnest(%s::int[], %s::text[], %s::int[], %s::text[], %s::boolean[])
        AS b(n, token_hash, user_id, arxiv_id, up)
),
locked AS (
    SELECT id, arxiv_id, imported_upvotes + user_upvotes AS total FROM papers
    WHERE arxiv_id = ANY(%s::text[]) ORDER BY id FOR UPDATE
),
voters AS (
    SELECT t.token_hash, t.user_id, u.is_banned, t.scope FROM api_tokens t
    JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = ANY(%s::text[]) AND t.revoked_at IS NULL
),
resolved AS (
    SELECT b.n, b.up, l.id AS paper_id, l.total,
        CASE WHEN b.token_hash IS NULL THEN b.user_id ELSE v.user_id END AS user_id,
        CASE WHEN b.token_hash IS NULL THEN 0
             WHEN v.token_hash IS NULL OR v.is_banned THEN 1
             WHEN v.scope = 'read' THEN 2 ELSE 0 END AS refused
    FROM batch b
    LEFT JOIN locked l ON l.arxiv_id = b.arxiv_id
    LEFT JOIN voters v ON v.token_hash = b.token_hash
),
wanted AS (
    SELECT DISTINCT ON (user_id, paper_id) user_id, paper_id, up FROM resolved
    WHERE refused = 0 AND paper_id IS NOT NULL
    ORDER BY user_id, paper_id, n DESC
),
ins AS (
    INSERT INTO upvotes (user_id, paper_id, created_at)
    SELECT user_id, paper_id, %s FROM wanted WHERE up ORDER BY user_id, paper_id
    ON CONFLICT DO NOTHING RETURNING paper_id
),
del AS (
    DELETE FROM upvotes x USING wanted w
    WHERE NOT w.up AND x.user_id = w.user_id AND x.paper_id = w.paper_id
    RETURNING x.paper_id
),
d AS (
    SELECT paper_id, sum(step) AS step FROM (
        SELECT paper_id, 1 AS step FROM ins UNION ALL SELECT paper_id, -1 FROM del
    ) s GROUP BY paper_id
),
upd AS (
    UPDATE papers p SET user_upvotes = p.user_upvotes + d.step FROM d
    WHERE p.id = d.paper_id AND d.step <> 0
    RETURNING p.id, p.imported_upvotes + p.user_upvotes AS total
)
SELECT r.n, r.refused, r.paper_id, COALESCE(upd.total, r.total)
FROM resolved r LEFT JOIN upd ON upd.id = r.paper_id
ORDER BY r.n
"""


# A batch of one vote (the usual case outside bursts) runs the same work without arrays,
# sorts or hash joins. Measured against ``_PG_BATCH`` with one vote: psycopg's CPU 0.15-0.17
# instead of 0.24 ms (array parameters are dumped in Python), the round trip 0.34 instead
# of 0.47-0.53 ms. Same rows, same answers; it locks its one paper.
_PG_ONE = """
WITH voter AS (
    SELECT CASE WHEN %(token)s::text IS NULL THEN 0
                WHEN t.user_id IS NULL OR u.is_banned THEN 1
                WHEN t.scope = 'read' THEN 2 ELSE 0 END AS refused,
           CASE WHEN %(token)s::text IS NULL THEN %(user)s::int ELSE t.user_id END AS user_id
    FROM (SELECT 1) AS one
    LEFT JOIN api_tokens t ON t.token_hash = %(token)s::text AND t.revoked_at IS NULL
    LEFT JOIN users u ON u.id = t.user_id
),
paper AS (
    SELECT id, imported_upvotes + user_upvotes AS total FROM papers
    WHERE arxiv_id = %(arxiv_id)s::text FOR UPDATE
),
ins AS (
    INSERT INTO upvotes (user_id, paper_id, created_at)
    SELECT v.user_id, p.id, %(at)s::timestamp FROM voter v, paper p
    WHERE %(up)s::boolean AND v.refused = 0
    ON CONFLICT DO NOTHING RETURNING paper_id
),
del AS (
    DELETE FROM upvotes x USING voter v, paper p
    WHERE NOT %(up)s::boolean AND v.refused = 0 AND x.user_id = v.user_id AND x.paper_id = p.id
    RETURNING x.paper_id
),
upd AS (
    UPDATE papers SET user_upvotes = user_upvotes + CASE WHEN %(up)s::boolean THEN 1 ELSE -1 END
    WHERE id IN (SELECT paper_id FROM ins UNION ALL SELECT paper_id FROM del)
    RETURNING imported_upvotes + user_upvotes AS total
)
SELECT 0, v.refused, p.id, COALESCE((SELECT total FROM upd), p.total)
FROM voter v LEFT JOIN paper p ON true
"""


def _pg_statement(batch: Sequence[Vote]) -> PgStatement:
    if len(batch) == 1:
        ((voter, arxiv_id, up),) = batch
        token = voter.token_hash if isinstance(voter, ByToken) else None
        one = {
            "token": token,
            "user": None if token is not None else voter,
            "arxiv_id": arxiv_id,
            "up": up,
            "at": utcnow(),
        }
        return _PG_ONE, one
    hashes = [voter.token_hash if isinstance(voter, ByToken) else None for voter, _, _ in batch]
    users = [None if isinstance(voter, ByToken) else voter for voter, _, _ in batch]
    arxiv_ids = [arxiv_id for _, arxiv_id, _ in batch]
    params: list[Any] = [
        list(range(len(batch))),
        hashes,
        users,
        arxiv_ids,
        [up for _, _, up in batch],
        sorted(set(arxiv_ids)),
        sorted({h for h in hashes if h is not None}),
        utcnow(),
    ]
    return _PG_BATCH, params


def _pg_answers(batch: Sequence[Vote], rows: Rows) -> list[VoteResult]:
    """Each vote's answer from the rows ``(n, refused, paper id, total)`` of ``_PG_BATCH``
    or ``_PG_ONE``."""
    results: list[VoteResult] = []
    for (_, arxiv_id, up), (_, refused, paper_id, total) in zip(batch, rows, strict=True):
        if refused == 1:
            results.append(TokenRefused(TOKEN_REFUSED))
        elif refused == 2:
            results.append(Forbidden(READ_ONLY))
        elif paper_id is None:
            results.append(NotFound(f"No paper {arxiv_id[:40]} on this site."))
        else:
            results.append((int(total), up))
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
    - SQLite: on the event loop itself, between requests. A batch is local work of about a
      hundred microseconds (WAL, ``synchronous=NORMAL``: no fsync per commit), and no thread
      means no GIL hand-offs with the loop. The loop must never wait for a lock, so a batch
      only *tries* the write lock (``write(wait=False)``); while another writer (the other
      worker, an ingest) holds it, the batch is retried a millisecond later.
    - PostgreSQL: in a task on the same loop, over its own psycopg ``AsyncConnection``. A
      batch is one statement (``_PG_BATCH``), one round trip; the task awaits it while the
      loop serves other requests, and the votes that arrive meanwhile make the next batch.
      A batch is sent once its oldest vote has waited ``GATHER_SECONDS``.
      (Blocking round trips on the loop stopped every request of the worker: p50 73 ms at
      480 votes/s. On a writer thread each round trip waited for the
      GIL from the busy loop, up to the 5 ms switch interval: under a read flood votes fell
      to 440/s at p99 0.4-0.7 s.)
    """

    MAX_BATCH = 256
    RETRY_SECONDS = 0.001
    # PostgreSQL: batches in flight at once per worker, each on its own connection. Two
    # were measured under a read flood: smaller batches, more database CPU, reads kept
    # 77-82 % instead of 88-89 %, and no better latency.
    PG_CONNECTIONS = 1
    # PostgreSQL: a batch waits until its oldest vote is this old before it is sent, so
    # votes that arrive a few milliseconds apart share one statement (one round trip, one
    # wake-up of the writer task, one commit) instead of each paying for its own. Under a
    # read flood at ~570 votes/s (benchmarks/bench_upvotes.py, 16 rounds a run): on a slow
    # 2-core VM the day page kept a median of 80 % of its throughput with 5 ms against
    # 71 % and 73 % without; on a faster one 85 % and 87 % against 86 % and 84 %, with the
    # server's CPU per vote 0.21-0.30 instead of 0.34 ms. The price: a vote alone answers
    # about 5 ms later (p50 0.7 -> 4.3-5.2 ms). SQLite applies a vote within the request's
    # own turn of the loop and needs no such wait.
    GATHER_SECONDS = 0.005

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[_Waiter] = []
        self._flush_scheduled = False
        # PostgreSQL: the writer task, its loop and the event that wakes it.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._closing = False
        # PostgreSQL: when the oldest vote of the queue arrived (loop time).
        self._oldest_at = 0.0

    async def set_vote(self, voter: Voter, arxiv_id: str, up: bool) -> tuple[int, bool]:
        """Apply one vote with the others of this moment; raises the ``CommunityError`` of a
        refused vote (``NotFound``, ``TokenRefused``, ``Forbidden``)."""
        if not is_arxiv_id(arxiv_id):
            raise _no_paper(arxiv_id)  # refused before it is queued (see ``_impossible``)
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
            if not self._pending:
                self._oldest_at = loop.time()
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
                # Let the votes of the next few milliseconds join this batch.
                gather = self._oldest_at + self.GATHER_SECONDS - asyncio.get_running_loop().time()
                if gather > 0 and not self._closing and len(self._pending) < self.MAX_BATCH:
                    await asyncio.sleep(gather)
                batch = self._pending[: self.MAX_BATCH]
                del self._pending[: len(batch)]
                self._oldest_at = 0.0
                votes = [vote for vote, _ in batch]
                try:
                    connection, results = await _apply_pg(connection, conninfo, votes)
                    outcomes: list[VoteResult | BaseException] = list(results)
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


async def _connect(conninfo: str) -> Any:
    import psycopg

    # Autocommit: each batch is one statement, its own transaction.
    connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    # Votes only: COMMIT returns without waiting for the WAL flush, the trade SQLite's WAL
    # makes at synchronous=NORMAL. A crash of the database server may lose the last fraction
    # of a second of votes, never half of one (rows and counters commit together).
    await connection.execute("SET synchronous_commit = off")
    return connection


async def _apply_pg(
    connection: Any, conninfo: str, votes: list[Vote]
) -> tuple[Any, list[VoteResult]]:
    """Apply ``votes`` on ``connection`` (a new one when None or closed); the connection to
    keep, and the answers. A lost connection (a terminated backend, a restarted server) is
    replaced and the batch applied once more: each vote sets a state (up or not), so the
    batch is idempotent whether or not the lost statement committed."""
    for attempt in (1, 2):
        try:
            if connection is None or connection.closed:
                connection = await _connect(conninfo)
            return connection, await set_votes_async(connection, votes)
        except Exception as exc:
            if attempt == 2 or not lost_connection(exc):
                raise
            log.warning("votes: the database connection was lost (%s); once more", exc)
            if connection is not None:
                await connection.close()
            connection = None
    raise AssertionError("unreachable")  # pragma: no cover


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
