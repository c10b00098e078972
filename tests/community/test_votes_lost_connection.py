"""A PostgreSQL backend terminated under the votes (an admin, a failover, a restart): the
batch is applied once more on a new connection, so every vote lands and answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from paperfeed.community.votes import VoteWriter, set_vote
from paperfeed.store.db import Database
from tests.community.test_vote_batches import live_count
from tests.digest.test_lost_connection import terminate_other_backends


@pytest.fixture
def pg_db(site_db: Database) -> Database:
    if site_db.ops.features.in_process:
        pytest.skip("PostgreSQL only: its backends can be terminated")
    return site_db


def test_a_vote_batch_survives_a_terminated_backend(
    pg_db: Database, make_user: Callable[..., Any]
) -> None:
    voters = [make_user(f"voter{i}").id for i in range(5)]
    base = live_count(pg_db, "2503.00001")
    # One connection: the batch below surely meets the dead one.
    writer = VoteWriter(pg_db, connections=1)

    async def votes() -> list[tuple[int, bool]]:
        first = await writer.set_vote(voters[0], "2503.00001", True)
        assert terminate_other_backends(pg_db) >= 1
        rest = await asyncio.gather(*(writer.set_vote(v, "2503.00001", True) for v in voters[1:]))
        await writer.aclose()
        return [first, *rest]

    answers = asyncio.run(votes())
    pg_db.engine.dispose()  # the test's own pool lost its connections too
    assert answers[0] == (base + 1, True)
    assert answers[1:] == [(base + 5, True)] * 4
    assert live_count(pg_db, "2503.00001") == base + 5


def test_a_form_vote_survives_a_terminated_backend(
    pg_db: Database, make_user: Callable[..., Any]
) -> None:
    ann, ben = make_user("ann").id, make_user("ben").id
    base = live_count(pg_db, "2503.00002")
    assert set_vote(pg_db, ann, "2503.00002", True) == (base + 1, True)
    assert terminate_other_backends(pg_db) >= 1
    assert set_vote(pg_db, ben, "2503.00002", True) == (base + 2, True)
    assert live_count(pg_db, "2503.00002") == base + 2
