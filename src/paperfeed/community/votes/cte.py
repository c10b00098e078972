"""The vote rule as one statement per batch (data-modifying CTEs), for databases with
writable CTEs (PostgreSQL). Run in autocommit, a batch is one round trip and its own
transaction: under a read flood each round trip waits for a turn of the worker's busy
event loop, so two rounds and a COMMIT made every vote slower (see benchmarks/RESULTS.md).
A batch of one vote takes the same statement (a shortcut for it was measured and not kept).

The statement:
- locks the batch's papers first, in id order (``locked``: its sort reads every row, and so
  takes every lock, before ``wanted``'s sort lets the first vote row through). Every vote
  statement touches only vote rows of papers it holds, so two workers' batches never
  deadlock, and the counters move under the lock;
- checks the API tokens in the same statement (``rule.token_verdict``, in SQL);
- keeps each (user, paper)'s last wish, inserts or deletes the rows in (user, paper) order,
  and moves each paper's counter by what RETURNING says really changed;
- answers each vote, in order, with its paper's total after the batch (the locked row's,
  which is the newest version, when this batch did not change it).
One reading differs from separate statements: the vote rows are found under the statement's
snapshot, taken before it waited for a paper's lock, so a concurrent request of the same user
on the same paper may be ordered first. Rows and counters still agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paperfeed.community.sql import sql
from paperfeed.community.votes.backend import Plan, Rows
from paperfeed.community.votes.rule import (
    ALLOWED,
    READ_ONLY_TOKEN,
    REFUSED,
    ByToken,
    Vote,
    VoteResult,
    answer,
)
from paperfeed.store.dialect import Ops
from paperfeed.store.models import utcnow

_VERDICTS = {"ALLOWED": ALLOWED, "REFUSED": REFUSED, "READ_ONLY_TOKEN": READ_ONLY_TOKEN}

_BATCH = sql(
    """
WITH batch AS (
    SELECT * FROM unnest(?::int[], ?::text[], ?::int[], ?::text[], ?::boolean[])
        AS b(n, token_hash, user_id, arxiv_id, up)
),
locked AS (
    SELECT {papers.id} AS id, {papers.arxiv_id} AS arxiv_id,
        {papers.imported_upvotes} + {papers.user_upvotes} AS total
    FROM {papers} WHERE {papers.arxiv_id} = ANY(?::text[]) ORDER BY {papers.id} FOR UPDATE
),
voters AS (
    SELECT t.{api_tokens.token_hash} AS token_hash, t.{api_tokens.user_id} AS user_id,
        u.{users.is_banned} AS is_banned, t.{api_tokens.scope} AS scope
    FROM {api_tokens} t JOIN {users} u ON u.{users.id} = t.{api_tokens.user_id}
    WHERE t.{api_tokens.token_hash} = ANY(?::text[]) AND t.{api_tokens.revoked_at} IS NULL
),
resolved AS (
    SELECT b.n, b.up, l.id AS paper_id, l.total,
        CASE WHEN b.token_hash IS NULL THEN b.user_id ELSE v.user_id END AS user_id,
        CASE WHEN b.token_hash IS NULL THEN {ALLOWED}
             WHEN v.token_hash IS NULL OR v.is_banned THEN {REFUSED}
             WHEN v.scope = 'read' THEN {READ_ONLY_TOKEN} ELSE {ALLOWED} END AS refused
    FROM batch b
    LEFT JOIN locked l ON l.arxiv_id = b.arxiv_id
    LEFT JOIN voters v ON v.token_hash = b.token_hash
),
wanted AS (
    SELECT DISTINCT ON (user_id, paper_id) user_id, paper_id, up FROM resolved
    WHERE refused = {ALLOWED} AND paper_id IS NOT NULL
    ORDER BY user_id, paper_id, n DESC
),
ins AS (
    INSERT INTO {upvotes} ({upvotes.user_id}, {upvotes.paper_id}, {upvotes.created_at})
    SELECT user_id, paper_id, ? FROM wanted WHERE up ORDER BY user_id, paper_id
    ON CONFLICT DO NOTHING RETURNING {upvotes.paper_id} AS paper_id
),
del AS (
    DELETE FROM {upvotes} x USING wanted w
    WHERE NOT w.up AND x.{upvotes.user_id} = w.user_id AND x.{upvotes.paper_id} = w.paper_id
    RETURNING x.{upvotes.paper_id} AS paper_id
),
d AS (
    SELECT paper_id, sum(step) AS step FROM (
        SELECT paper_id, 1 AS step FROM ins UNION ALL SELECT paper_id, -1 FROM del
    ) s GROUP BY paper_id
),
upd AS (
    UPDATE {papers} p SET {papers.user_upvotes} = p.{papers.user_upvotes} + d.step FROM d
    WHERE p.{papers.id} = d.paper_id AND d.step <> 0
    RETURNING p.{papers.id} AS id, p.{papers.imported_upvotes} + p.{papers.user_upvotes} AS total
)
SELECT r.n, r.refused, r.paper_id, COALESCE(upd.total, r.total)
FROM resolved r LEFT JOIN upd ON upd.id = r.paper_id
ORDER BY r.n
""",
    **_VERDICTS,
)


class CteBackend:
    """A batch as one statement with arrays for parameters."""

    name = "cte"
    one_statement = True

    def __init__(self, ops: Ops) -> None:
        self._ops = ops
        self._sql = ops.driver_sql(_BATCH)

    def plan(self, batch: Sequence[Vote]) -> Plan:
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
            self._ops.driver_datetime(utcnow()),
        ]
        (rows,) = yield [(self._sql, params)]
        return _answers(batch, rows)


def _answers(batch: Sequence[Vote], rows: Rows) -> list[VoteResult]:
    """Each vote's answer from the rows ``(n, verdict, paper id, total)`` of a statement."""
    return [
        answer(arxiv_id, up, verdict, None if paper_id is None else total)
        for (_, arxiv_id, up), (_, verdict, paper_id, total) in zip(batch, rows, strict=True)
    ]
