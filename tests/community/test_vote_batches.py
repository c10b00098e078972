"""Votes applied in batches: ``set_votes`` (one transaction for many votes) and the app's
``VoteWriter`` (requests queue their votes; the loop is never blocked on a lock: SQLite
batches run on it and only try the lock; a PostgreSQL batch is one statement, awaited on it)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select, update

from paperfeed.community import NotFound
from paperfeed.community.votes import VoteWriter, set_vote, set_votes
from paperfeed.store.db import Database, WriteBusy
from paperfeed.store.models import Paper, Upvote


def live_count(db: Database, arxiv_id: str) -> int:
    with db.read() as s:
        paper = s.scalars(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()
        rows = s.scalar(select(func.count()).where(Upvote.paper_id == paper.id))
        assert paper.user_upvotes == rows, "the counter drifted from the vote rows"
        return int(paper.imported_upvotes + paper.user_upvotes)


def test_one_batch_applies_in_order_and_isolates_unknown_papers(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    ann, ben = make_user("ann").id, make_user("ben").id
    base = live_count(site_db, "2503.00001")
    results = set_votes(
        site_db,
        [
            (ann, "2503.00001", True),
            (ben, "2503.00001", True),
            (ann, "2503.99999", True),  # unknown: refused in its place only
            (ann, "2503.00001", False),  # takes ann's vote back within the same batch
            (ann, "2503.00001", True),  # and gives it again
            (ben, "2503.00002", True),
            (ben, "2503.00002", True),  # twice: still one vote
        ],
    )
    assert isinstance(results[2], NotFound)
    ok = [r for r in results if not isinstance(r, NotFound)]
    assert [voted for _, voted in ok] == [True, True, False, True, True, True]  # type: ignore[misc]
    # Every answer carries the total after the batch.
    assert results[0] == (base + 2, True)
    assert live_count(site_db, "2503.00001") == base + 2
    second = live_count(site_db, "2503.00002")
    assert results[5] == (second, True)
    # Taking back votes, and a vote that was never there, in one more batch.
    results = set_votes(
        site_db,
        [(ann, "2503.00001", False), (ann, "2503.00002", False), (ben, "2503.00002", False)],
    )
    assert results == [(base + 1, False), (second - 1, False), (second - 1, False)]
    assert live_count(site_db, "2503.00002") == second - 1
    with pytest.raises(NotFound):
        set_vote(site_db, ann, "2503.99999", True)


def test_many_concurrent_requests_all_land(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    voters = [make_user(f"user{i}").id for i in range(30)]
    papers = ["2503.00001", "2503.00002", "2503.00003"]
    before = {p: live_count(site_db, p) for p in papers}
    writer = VoteWriter(site_db)

    async def storm() -> list[tuple[int, bool]]:
        calls = [writer.set_vote(u, p, True) for u in voters for p in papers]
        calls += [writer.set_vote(u, "2503.00003", False) for u in voters[:10]]
        return await asyncio.gather(*calls)

    try:
        answers = asyncio.run(storm())
    finally:
        writer.close()
    assert len(answers) == 100
    assert live_count(site_db, "2503.00001") == before["2503.00001"] + 30
    assert live_count(site_db, "2503.00002") == before["2503.00002"] + 30
    assert live_count(site_db, "2503.00003") == before["2503.00003"] + 20
    assert answers[-1] == (before["2503.00003"] + 20, False)


def test_unknown_paper_fails_only_its_own_request(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    ann = make_user("ann").id
    writer = VoteWriter(site_db)

    async def both() -> Sequence[Any]:
        return await asyncio.gather(
            writer.set_vote(ann, "2503.99999", True),
            writer.set_vote(ann, "2503.00001", True),
            return_exceptions=True,
        )

    try:
        missing, fine = asyncio.run(both())
    finally:
        writer.close()
    assert isinstance(missing, NotFound)
    assert fine == (live_count(site_db, "2503.00001"), True)


def test_sqlite_write_without_waiting_reports_a_busy_lock(site_db: Database) -> None:
    if not site_db.ops.features.serial_writes:
        pytest.skip("SQLite only: its write lock; PostgreSQL writers never wait for it")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with site_db.write():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(WriteBusy), site_db.write(wait=False):
            pass
    finally:
        release.set()
        holder.join()
    with site_db.write(wait=False):  # free again
        pass


def test_votes_never_block_the_event_loop_on_a_held_lock(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    """While another writer holds the lock (SQLite: the write lock; PostgreSQL: the paper's
    row), the loop keeps running other work; the vote lands once the lock is free. If the
    flush blocked the loop, the loop could never tell the holder to let go, and the holder
    would give up after 10 s instead."""
    ann = make_user("ann").id
    base = live_count(site_db, "2503.00001")
    held, release = threading.Event(), threading.Event()
    released_by_loop: list[bool] = []

    def hold() -> None:
        with site_db.write() as session:
            session.execute(
                update(Paper)
                .where(Paper.arxiv_id == "2503.00001")
                .values(user_upvotes=Paper.user_upvotes)
            )
            held.set()
            released_by_loop.append(release.wait(10))

    writer = VoteWriter(site_db)

    async def scenario() -> tuple[int, bool]:
        vote = asyncio.ensure_future(writer.set_vote(ann, "2503.00001", True))
        for _ in range(20):  # the loop goes on turning while the vote waits for the lock
            await asyncio.sleep(0.005)
        assert not vote.done()
        release.set()
        return await vote

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        answer = asyncio.run(scenario())
    finally:
        release.set()
        holder.join()
        writer.close()
    assert released_by_loop == [True]
    assert answer == (base + 1, True)


def test_token_voters_are_checked_in_the_votes_transaction(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    from paperfeed.community import Forbidden, tokens, users
    from paperfeed.community.keys import digest
    from paperfeed.community.votes import ByToken, TokenRefused

    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    write = tokens.create_token(site_db, ann, "w", "write")
    read = tokens.create_token(site_db, ann, "r", "read")[0]
    revoked = tokens.create_token(site_db, ben, "old", "write")
    tokens.revoke_token(site_db, ben, revoked[1].id)
    banned = tokens.create_token(site_db, cat, "w", "write")[0]
    users.set_banned(site_db, "cat", True)
    base = live_count(site_db, "2503.00003")
    results = set_votes(
        site_db,
        [
            (ByToken(digest(write[0])), "2503.00003", True),
            (ByToken(digest(read)), "2503.00003", True),
            (ByToken(digest(revoked[0])), "2503.00003", True),
            (ByToken(digest(banned)), "2503.00003", True),
            (ByToken(digest("pf_never_issued")), "2503.00003", True),
            (ByToken(digest(write[0])), "2503.99999", True),
            (ben.id, "2503.00003", True),  # a browser's vote, by user id, in the same batch
        ],
    )
    assert results[0] == (base + 2, True) and results[6] == (base + 2, True)
    assert isinstance(results[1], Forbidden)
    assert all(isinstance(r, TokenRefused) for r in results[2:5])
    assert isinstance(results[5], NotFound)
    assert live_count(site_db, "2503.00003") == base + 2


def test_two_workers_batches_on_the_same_papers_never_deadlock(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    """Two writers (as two server workers: each its own loop and connection) vote on the
    same papers at once, in opposite orders, up and down: every vote lands or is refused
    for a reason, no transaction fails (a deadlock would), and the counters equal the rows."""
    voters = [make_user(f"voter{i}").id for i in range(12)]
    papers = ["2503.00001", "2503.00002", "2503.00003"]
    failures: list[BaseException] = []

    def worker(order: list[str]) -> None:
        writer = VoteWriter(site_db)

        async def storm() -> None:
            for up in (True, False, True):
                calls = [writer.set_vote(u, p, up) for u in voters for p in order]
                for outcome in await asyncio.gather(*calls, return_exceptions=True):
                    if isinstance(outcome, BaseException):
                        failures.append(outcome)
            await writer.aclose()

        asyncio.run(storm())

    threads = [threading.Thread(target=worker, args=(order,)) for order in (papers, papers[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    for paper in papers:
        live_count(site_db, paper)  # asserts the counter equals the rows


def test_votes_one_at_a_time_answer_as_in_a_batch(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    """Every kind of voter, refusal and change, each alone in its batch (how votes arrive
    outside bursts), gets the answer it gets in a batch with others."""
    from paperfeed.community import Forbidden, tokens, users
    from paperfeed.community.keys import digest
    from paperfeed.community.votes import ByToken, TokenRefused

    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    write = ByToken(digest(tokens.create_token(site_db, ann, "w", "write")[0]))
    read = ByToken(digest(tokens.create_token(site_db, ann, "r", "read")[0]))
    revoked_token, revoked_row = tokens.create_token(site_db, ben, "old", "write")
    tokens.revoke_token(site_db, ben, revoked_row.id)
    banned = ByToken(digest(tokens.create_token(site_db, cat, "w", "write")[0]))
    users.set_banned(site_db, "cat", True)
    paper = "2503.00004"
    base = live_count(site_db, paper)

    def alone(voter: Any, arxiv_id: str, up: bool) -> Any:
        (result,) = set_votes(site_db, [(voter, arxiv_id, up)])
        return result

    assert alone(write, paper, True) == (base + 1, True)
    assert alone(write, paper, True) == (base + 1, True)  # again: still one vote
    assert alone(ben.id, paper, True) == (base + 2, True)  # a browser's vote, by user id
    assert isinstance(alone(read, paper, True), Forbidden)
    assert isinstance(alone(ByToken(digest(revoked_token)), paper, True), TokenRefused)
    assert isinstance(alone(banned, paper, False), TokenRefused)
    assert isinstance(alone(ByToken(digest("pf_never_issued")), paper, True), TokenRefused)
    assert isinstance(alone(write, "2503.99999", True), NotFound)
    assert isinstance(alone(ben.id, "2503.99999", False), NotFound)
    assert alone(write, paper, False) == (base + 1, False)
    assert alone(write, paper, False) == (base + 1, False)  # a vote that is not there
    assert alone(ben.id, paper, False) == (base, False)
    assert live_count(site_db, paper) == base


def test_postgres_votes_queued_close_together_share_one_statement(
    site_db: Database, make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a batch waits until its oldest vote is ``GATHER_SECONDS`` old, so two
    votes a millisecond apart go to the database as one statement (one round trip)."""
    if site_db.ops.features.serial_writes:
        pytest.skip("PostgreSQL only: SQLite applies a vote within its request's turn of the loop")
    from paperfeed.community.votes import apply

    sizes: list[int] = []
    real = apply.set_votes_async

    async def spy(connection: Any, ops: Any, batch: list[Any]) -> Any:
        sizes.append(len(batch))
        return await real(connection, ops, batch)

    monkeypatch.setattr(apply, "set_votes_async", spy)
    ann, ben = make_user("ann").id, make_user("ben").id
    base = live_count(site_db, "2503.00001")
    # Wider than the 5 ms default, so a slow CI machine still fits the second vote in.
    writer = VoteWriter(site_db, gather_seconds=0.2)

    async def two_votes() -> list[tuple[int, bool]]:
        first = asyncio.ensure_future(writer.set_vote(ann, "2503.00001", True))
        await asyncio.sleep(0.001)
        second = asyncio.ensure_future(writer.set_vote(ben, "2503.00001", True))
        answers = [await first, await second]
        await writer.aclose()
        return answers

    assert asyncio.run(two_votes()) == [(base + 2, True), (base + 2, True)]
    assert sizes == [2]
