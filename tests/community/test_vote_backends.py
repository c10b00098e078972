"""The vote rule as one table of cases, put through every vote backend the database under
test can run (``votes.apply.available``: on SQLite the stepwise ones, on PostgreSQL the
writable-CTE ones too, also awaited on an autocommit connection). Each backend must give the
answers and leave the rows the table says, and all of them exactly the same answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from paperfeed.community import CommunityError, tokens, users
from paperfeed.community.keys import digest
from paperfeed.community.votes import ByToken, Vote, Voter, VoteResult, set_votes
from paperfeed.community.votes.apply import available, set_votes_async
from paperfeed.community.votes.backend import VoteBackend
from paperfeed.store.db import Database
from paperfeed.store.models import Paper, Upvote, User

P1, P2 = "2503.00001", "2503.00002"
UNKNOWN = "2503.99999"  # an id a paper could have, but none has
IMPOSSIBLE = "2503.0000\x00"  # refused before any backend sees it

Step = list[tuple[str, str, bool]]  # (voter's name, arXiv id, up)
# One answer: the paper's upvotes above its imported ones and the vote's state, or the
# name of the refusal.
Answer = tuple[int, bool] | str


@dataclass(frozen=True)
class Case:
    name: str
    steps: list[Step]  # batches, applied one after the other
    answers: list[list[Answer]]  # each step's, one per vote
    rows: set[tuple[str, str]]  # (user, paper) of the vote rows afterwards


CASES = [
    Case("new vote", [[("ann", P1, True)]], [[(1, True)]], {("ann", P1)}),
    Case(
        "repeat",
        [[("ann", P1, True)], [("ann", P1, True)]],
        [[(1, True)], [(1, True)]],
        {("ann", P1)},
    ),
    Case(
        "un-vote",
        [[("ann-write", P1, True)], [("ann-write", P1, False)], [("ann", P1, False)]],
        [[(1, True)], [(0, False)], [(0, False)]],
        set(),
    ),
    Case("un-vote never given", [[("ben", P2, False)]], [[(0, False)]], set()),
    Case(
        "unknown paper",
        [[("ann", UNKNOWN, True)], [("ann-write", UNKNOWN, False)], [("ann", IMPOSSIBLE, True)]],
        [["NotFound"], ["NotFound"], ["NotFound"]],
        set(),
    ),
    Case("read-only token", [[("ann-read", P1, True)]], [["Forbidden"]], set()),
    Case("revoked token", [[("ben-revoked", P1, True)]], [["TokenRefused"]], set()),
    Case("banned user's token", [[("cat-banned", P1, False)]], [["TokenRefused"]], set()),
    Case("token never issued", [[("never", P1, True)]], [["TokenRefused"]], set()),
    Case("refused token, unknown paper", [[("never", UNKNOWN, True)]], [["TokenRefused"]], set()),
    Case(
        "mixed batch",
        [
            [
                ("ann", P1, True),
                ("ben-write", P1, True),
                ("ann-read", P2, True),
                ("never", P2, True),
                ("ann", UNKNOWN, True),
                ("cat-banned", P1, True),
                ("ben", P2, True),
                ("dan", IMPOSSIBLE, True),
                ("dan", P2, False),
            ]
        ],
        [
            [
                (2, True),
                (2, True),
                "Forbidden",
                "TokenRefused",
                "NotFound",
                "TokenRefused",
                (1, True),
                "NotFound",
                (1, False),
            ]
        ],
        {("ann", P1), ("ben", P1), ("ben", P2)},
    ),
    Case(
        "duplicates in a batch: the last wish of each user and paper counts",
        [
            [
                ("ann", P1, True),
                ("ann", P1, True),
                ("ann", P1, False),
                ("ann-write", P1, True),  # the same user, by token
                ("ben", P2, True),
                ("ben-write", P2, False),
            ]
        ],
        [[(1, True), (1, True), (1, False), (1, True), (0, True), (0, False)]],
        {("ann", P1)},
    ),
    Case(
        "every answer carries its paper's total after the batch",
        [
            [("ann", P1, True)],
            [("ben", P1, True), ("ann", P1, False), ("dan", P1, True), ("ben", P2, True)],
            [("ann", P1, False), ("ben", P2, False)],  # changes nothing on P1
        ],
        [[(1, True)], [(2, True), (2, False), (2, True), (1, True)], [(2, False), (0, False)]],
        {("ben", P1), ("dan", P1)},
    ),
]


@pytest.fixture
def voters(site_db: Database, make_user: Callable[..., Any]) -> dict[str, Voter]:
    ann, ben, cat, dan = (make_user(name) for name in ("ann", "ben", "cat", "dan"))
    revoked, row = tokens.create_token(site_db, ben, "old", "write")
    tokens.revoke_token(site_db, ben, row.id)
    banned = tokens.create_token(site_db, cat, "w", "write")[0]
    users.set_banned(site_db, "cat", True)

    def token(account: users.Account, scope: str) -> ByToken:
        return ByToken(digest(tokens.create_token(site_db, account, scope, scope)[0]))

    return {
        "ann": ann.id,
        "ben": ben.id,
        "dan": dan.id,
        "ann-write": token(ann, "write"),
        "ann-read": token(ann, "read"),
        "ben-write": token(ben, "write"),
        "ben-revoked": ByToken(digest(revoked)),
        "cat-banned": ByToken(digest(banned)),
        "never": ByToken(digest("pf_never_issued")),
    }


Outcome = tuple[list[list[Any]], set[tuple[str, str]]]


def test_every_backend_applies_the_rule_alike(
    site_db: Database, voters: dict[str, Voter], subtests: pytest.Subtests
) -> None:
    # One database for all the cases (each starts from a table without votes): on
    # PostgreSQL a database per case cost more than the cases.
    for case in CASES:
        with subtests.test(case.name):
            _check(site_db, voters, case)


def _check(db: Database, voters: dict[str, Voter], case: Case) -> None:
    runs: dict[str, Callable[[list[Vote]], list[VoteResult]]] = {}
    for backend in available(db.ops):
        runs[backend.name] = _in_transaction(db, backend)
        if backend.one_statement and not db.ops.features.serial_writes:
            runs[f"{backend.name}, awaited"] = _awaited(db, backend)
    outcomes = {name: _outcome(db, voters, case, run) for name, run in runs.items()}
    expected = (case.answers, case.rows)
    assert {name: _kinds(outcome) for name, outcome in outcomes.items()} == dict.fromkeys(
        outcomes, expected
    )
    # The same messages too (the refusals' texts are what a client is shown).
    assert len({repr(outcome) for outcome in outcomes.values()}) == 1, outcomes


def _in_transaction(db: Database, backend: VoteBackend) -> Callable[[list[Vote]], Any]:
    return lambda batch: set_votes(db, batch, using=backend)


def _awaited(db: Database, backend: VoteBackend) -> Callable[[list[Vote]], Any]:
    async def run(batch: list[Vote]) -> list[VoteResult]:
        connection = await db.ops.connect_async(db.engine.url)
        try:
            return await set_votes_async(connection, db.ops, batch, using=backend)
        finally:
            await connection.close()

    return lambda batch: asyncio.run(run(batch))


def _outcome(
    db: Database,
    voters: dict[str, Voter],
    case: Case,
    run: Callable[[list[Vote]], list[VoteResult]],
) -> Outcome:
    """Every step's answers (totals above the imported upvotes; refusals as (name, text))
    and the vote rows afterwards, from a table without votes."""
    with db.write() as session:
        session.execute(delete(Upvote))
        session.execute(update(Paper).values(user_upvotes=0))
        papers = session.execute(select(Paper.arxiv_id, Paper.imported_upvotes))
        imported = {arxiv_id: n for arxiv_id, n in papers}
    answers: list[list[Any]] = []
    for step in case.steps:
        results = run([(voters[name], arxiv_id, up) for name, arxiv_id, up in step])
        answers.append(
            [
                (type(r).__name__, str(r))
                if isinstance(r, CommunityError)
                else (r[0] - imported[arxiv_id], r[1])
                for r, (_, arxiv_id, _) in zip(results, step, strict=True)
            ]
        )
    return answers, _rows(db)


def _rows(db: Database) -> set[tuple[str, str]]:
    """The vote rows as (username, arXiv id); asserts every counter equals its rows."""
    with db.read() as session:
        rows = {
            (user, arxiv_id)
            for user, arxiv_id in session.execute(
                select(User.username, Paper.arxiv_id)
                .join(Upvote, Upvote.user_id == User.id)
                .join(Paper, Paper.id == Upvote.paper_id)
            )
        }
        counters = {a: n for a, n in session.execute(select(Paper.arxiv_id, Paper.user_upvotes))}
    counted = {arxiv_id: sum(1 for _, a in rows if a == arxiv_id) for arxiv_id in counters}
    assert counters == counted, "a counter drifted from the vote rows"
    return rows


def _kinds(outcome: Outcome) -> tuple[list[list[Answer]], set[tuple[str, str]]]:
    """The outcome in the table's terms: a refusal by its name only."""
    answers, rows = outcome
    return [[a[0] if isinstance(a[0], str) else a for a in step] for step in answers], rows
