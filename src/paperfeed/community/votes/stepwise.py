"""The vote rule as a few plain statements in one write transaction: SQL that SQLite and
PostgreSQL both run, the backend of databases without writable CTEs (SQLite, in process: a
statement costs no round trip). Every statement takes a whole batch, so a batch costs a fixed
handful of statements (plus one per changed paper) whatever its size; a batch of one vote
(the usual case outside bursts) takes the same path (a shortcut for it was measured and not
kept: see benchmarks/RESULTS.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from paperfeed.community.sql import sql
from paperfeed.community.votes.backend import Plan, Rounds, Rows, Statement
from paperfeed.community.votes.rule import ALLOWED, ByToken, Vote, answer, token_verdict
from paperfeed.store.dialect import Ops
from paperfeed.store.models import utcnow

# The statements' beginnings; a batch's ``?`` lists follow.
_PAPERS = sql("SELECT {papers.arxiv_id}, {papers.id} FROM {papers} WHERE {papers.arxiv_id} IN ")
_TOKENS = sql(
    "SELECT t.{api_tokens.token_hash}, u.{users.id}, u.{users.is_banned}, t.{api_tokens.scope} "
    "FROM {api_tokens} t JOIN {users} u ON u.{users.id} = t.{api_tokens.user_id} "
    "WHERE t.{api_tokens.revoked_at} IS NULL AND t.{api_tokens.token_hash} IN "
)
_ADD = sql(
    "INSERT INTO {upvotes} ({upvotes.user_id}, {upvotes.paper_id}, {upvotes.created_at}) VALUES "
)
_ADDED = " ON CONFLICT DO NOTHING RETURNING " + sql("{upvotes.paper_id}")
_REMOVE = sql("DELETE FROM {upvotes} WHERE ({upvotes.user_id}, {upvotes.paper_id}) IN ")
_REMOVED = " RETURNING " + sql("{upvotes.paper_id}")
_COUNT = sql(
    "UPDATE {papers} SET {papers.user_upvotes} = {papers.user_upvotes} + ? "
    "WHERE {papers.id} = ? RETURNING {papers.id}, {papers.imported_upvotes} + {papers.user_upvotes}"
)
_TOTALS = sql(
    "SELECT {papers.id}, {papers.imported_upvotes} + {papers.user_upvotes} FROM {papers} "
    "WHERE {papers.id} IN "
)


def _marks(n: int, width: int = 1) -> str:
    """``n`` parameters (``?, ?``), or ``n`` rows of ``width`` (``(?, ?), (?, ?)``)."""
    row = "?" if width == 1 else "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * n)


class StepwiseBackend:
    """A batch in three rounds: lookups (papers, tokens), vote rows, counters."""

    name = "stepwise"
    one_statement = False

    def __init__(self, ops: Ops) -> None:
        self._ops = ops

    def plan(self, batch: Sequence[Vote]) -> Plan:
        if not batch:
            return []
        hashes = sorted({voter.token_hash for voter, _, _ in batch if isinstance(voter, ByToken)})
        arxiv_ids = sorted({arxiv_id for _, arxiv_id, _ in batch})
        lookups = [self._statement(_PAPERS, f"({_marks(len(arxiv_ids))})", arxiv_ids)]
        if hashes:
            lookups.append(self._statement(_TOKENS, f"({_marks(len(hashes))})", hashes))
        found = yield lookups
        paper_ids: dict[str, int] = dict(found[0])
        tokens = _token_users(hashes, found[1] if hashes else [])
        voters = [
            tokens[v.token_hash] if isinstance(v, ByToken) else (ALLOWED, v) for v, _, _ in batch
        ]
        # Only each (user, paper)'s last wish counts; the statements then say what changed.
        wanted: dict[tuple[int, int], bool] = {}
        for (verdict, user_id), (_, arxiv_id, up) in zip(voters, batch, strict=True):
            if verdict == ALLOWED and user_id is not None and arxiv_id in paper_ids:
                wanted[(user_id, paper_ids[arxiv_id])] = up
        delta = yield from self._change(wanted)
        totals = yield from self._count(wanted, delta)
        answers = []
        for (verdict, _), (_, arxiv_id, up) in zip(voters, batch, strict=True):
            # None for an unknown paper, and for one only refused voters voted on (not
            # counted): ``answer`` tells the refusal first.
            total = totals.get(paper_ids[arxiv_id]) if arxiv_id in paper_ids else None
            answers.append(answer(arxiv_id, up, verdict, total))
        return answers

    def _change(self, wanted: dict[tuple[int, int], bool]) -> Rounds[Counter[int]]:
        """Round 2: the vote rows. Returns how much each paper's counter moves."""
        new = [pair for pair, up in sorted(wanted.items()) if up]
        gone = [pair for pair, up in sorted(wanted.items()) if not up]
        changes: list[Statement] = []
        if new:
            at = self._ops.driver_datetime(utcnow())
            values = [value for user_id, paper_id in new for value in (user_id, paper_id, at)]
            changes.append(self._statement(_ADD, _marks(len(new), 3) + _ADDED, values))
        if gone:
            values = [value for pair in gone for value in pair]
            rows = f"(VALUES {_marks(len(gone), 2)})"
            changes.append(self._statement(_REMOVE, rows + _REMOVED, values))
        delta: Counter[int] = Counter()
        if changes:
            changed = yield changes
            for (paper_id,) in changed[0] if new else []:
                delta[paper_id] += 1
            for (paper_id,) in changed[-1] if gone else []:
                delta[paper_id] -= 1
        return delta

    def _count(
        self, wanted: dict[tuple[int, int], bool], delta: Counter[int]
    ) -> Rounds[dict[int, int]]:
        """Round 3: the counters of the papers whose votes changed, the others' totals."""
        bumps = sorted((paper_id, step) for paper_id, step in delta.items() if step)
        rest = sorted({paper_id for _, paper_id in wanted} - {paper_id for paper_id, _ in bumps})
        counts = [self._statement(_COUNT, "", [step, paper_id]) for paper_id, step in bumps]
        if rest:
            counts.append(self._statement(_TOTALS, f"({_marks(len(rest))})", rest))
        totals: dict[int, int] = {}
        if counts:
            for rows in (yield counts):
                totals.update((paper_id, int(total)) for paper_id, total in rows)
        return totals

    def _statement(self, start: str, rest: str, params: list[Any]) -> Statement:
        return self._ops.driver_sql(start + rest), params


def _token_users(hashes: Iterable[str], rows: Rows) -> dict[str, tuple[int, int | None]]:
    """Each token hash's verdict and user, from the live tokens' rows."""
    found = {token_hash: (user_id, banned, scope) for token_hash, user_id, banned, scope in rows}
    users: dict[str, tuple[int, int | None]] = {}
    for token_hash in hashes:
        user_id, banned, scope = found.get(token_hash, (None, None, None))
        users[token_hash] = (token_verdict(user_id, banned, scope), user_id)
    return users
