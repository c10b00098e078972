"""The one protocol of the backends that apply a batch of votes by the rule (``rule.py``),
and the two ways to run one: on a cursor in a write transaction, or awaited on an event
loop's autocommit connection.

A backend plans a batch without doing I/O: it yields rounds of statements (driver SQL with
its parameters; each statement returns rows), is sent each round's rows, and returns the
answers. So one backend runs on either kind of cursor, and the table-driven test
(``tests/community/test_vote_backends.py``) puts every backend a database can run through the
same cases. Votes are the hottest write, so the statements are the driver's own SQL on a bare
cursor (``Database.raw_write``): through SQLAlchemy Core the same work cost several times the
CPU. RETURNING, not rowcount, says which rows really changed: psycopg reports -1 for ON
CONFLICT DO NOTHING, and another worker may have inserted the same vote a moment ago.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, Protocol, TypeVar, cast

from paperfeed.community.votes.rule import Vote, VoteResult

_T = TypeVar("_T")
Statement = tuple[str, Sequence[Any]]
Rows = list[tuple[Any, ...]]
Rounds = Generator[list[Statement], list[Rows], _T]  # each round's statements, then their rows
Plan = Rounds[list[VoteResult]]


class VoteBackend(Protocol):
    """One implementation of the vote rule."""

    name: str
    # The whole batch is one statement, so in autocommit it is its own transaction (the
    # only kind ``run_async`` may run).
    one_statement: bool

    def plan(self, batch: Sequence[Vote]) -> Plan:
        """The statements of ``batch`` in rounds, then its answers, one per vote in order."""
        ...


def run(cursor: Any, plan: Plan) -> list[VoteResult]:
    """Carry out ``plan`` on a DB-API cursor (inside the caller's transaction)."""
    try:
        statements = next(plan)
        while True:
            rows = []
            for sql, params in statements:
                cursor.execute(sql, params)
                rows.append(cursor.fetchall())
            statements = plan.send(rows)
    except StopIteration as done:
        return cast(list[VoteResult], done.value)


async def run_async(cursor: Any, plan: Plan) -> list[VoteResult]:
    """Carry out a one-statement ``plan`` on an async (psycopg) cursor."""
    try:
        statements = next(plan)
        while True:
            rows = []
            for sql, params in statements:
                await cursor.execute(sql, params)
                rows.append(await cursor.fetchall())
            statements = plan.send(rows)
    except StopIteration as done:
        return cast(list[VoteResult], done.value)
