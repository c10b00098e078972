"""Applying votes: the backends a database gets, and ``set_votes`` (a batch in one write
transaction) and ``set_votes_async`` (a batch as one statement on an event loop's
connection)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.community import CommunityError
from paperfeed.community.votes.backend import VoteBackend, run, run_async
from paperfeed.community.votes.cte import CteBackend
from paperfeed.community.votes.rule import Vote, VoteResult, impossible, merge
from paperfeed.community.votes.stepwise import StepwiseBackend
from paperfeed.store.db import Database, retry_if_disconnected
from paperfeed.store.dialect import Ops
from paperfeed.store.models import Paper, Upvote


def chosen(ops: Ops) -> VoteBackend:
    """One statement per batch where the database has writable CTEs (one round trip), else
    a few plain statements (where a statement costs no round trip)."""
    return CteBackend(ops) if ops.features.writable_cte else StepwiseBackend(ops)


def available(ops: Ops) -> list[VoteBackend]:
    """Every backend this database can run (the stepwise statements run on any)."""
    backends: list[VoteBackend] = [StepwiseBackend(ops)]
    if ops.features.writable_cte:
        backends.append(CteBackend(ops))
    return backends


def set_vote(db: Database, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool]:
    """Upvote (``up``) or take the vote back; idempotent. Returns (paper's upvotes, voted)."""
    result = set_votes(db, [(user_id, arxiv_id, up)])[0]
    if isinstance(result, CommunityError):
        raise result
    return result


def set_votes(
    db: Database, batch: Sequence[Vote], *, wait: bool = True, using: VoteBackend | None = None
) -> list[VoteResult]:
    """Apply votes in order in one write transaction (one commit, one turn of the write lock
    for all of them). A vote on an unknown paper gets ``NotFound`` in its place, one by a
    refused token ``TokenRefused`` or ``Forbidden`` (read-only); the others still apply.
    Each vote's answer carries the paper's total after the whole batch.
    ``wait=False``: see ``Database.write`` (raises ``WriteBusy``). ``using``: a backend of
    ``available(db.ops)`` instead of the database's own (tests)."""
    bad = impossible(batch)
    if bad:
        good = [vote for i, vote in enumerate(batch) if i not in bad]
        return merge(batch, bad, set_votes(db, good, wait=wait, using=using))
    if not batch:
        return []
    backend = using or chosen(db.ops)

    def apply() -> list[VoteResult]:
        with db.raw_write(wait=wait) as cursor:
            return run(cursor, backend.plan(batch))

    # Each vote sets a state, so a batch whose connection was lost is applied again.
    return retry_if_disconnected(apply, "votes")


async def set_votes_async(
    connection: Any, ops: Ops, batch: Sequence[Vote], *, using: VoteBackend | None = None
) -> list[VoteResult]:
    """``set_votes`` on an autocommit connection of ``ops.connect_async`` (a database with
    writable CTEs): the whole batch is one statement, its own transaction, so one round
    trip, awaited while the event loop serves other requests."""
    bad = impossible(batch)
    if bad:
        good = [vote for i, vote in enumerate(batch) if i not in bad]
        return merge(batch, bad, await set_votes_async(connection, ops, good, using=using))
    if not batch:
        return []
    backend = using or chosen(ops)
    assert backend.one_statement, "autocommit: only a one-statement batch is one transaction"
    cursor = connection.cursor()
    try:
        return await run_async(cursor, backend.plan(batch))
    finally:
        await cursor.close()


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
