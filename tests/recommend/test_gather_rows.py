"""``gather`` reads every source of a reader's signals and their skipped impressions in one
statement: on random mixes of sources, times around ``forget_before`` and ``skip_before``,
and a second reader, its answer is the one the rules give, computed here from the rows the
test wrote (SQLite, and PostgreSQL when PAPERFEED_TEST_DATABASE_URL names one)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from paperfeed.recommend.gather import DISMISSED_WEIGHT, KINDS, SKIPPED_WEIGHT, gather
from paperfeed.store.db import Database
from paperfeed.store.models import AuthorshipClaim, Collection, CollectionItem, Upvote
from paperfeed.store.reader_models import ReaderImpression, ReaderSignal
from tests.factories import add_paper
from tests.recommend.rank_corpus import add_user, set_prefs

NOW = dt.datetime(2026, 3, 1, 12, 0)
SKIP_BEFORE = NOW - dt.timedelta(hours=24)
# What a reader can do to a paper, as the rows it writes (name, source kind).
ACTIONS = ("upvoted", "saved", "wrote", "claimed", "seed", "dismissed", "ignored", "shown")


def _write(db: Database, user_id: int, paper_id: int, action: str, at: dt.datetime) -> None:
    with db.write() as s:
        if action == "upvoted":
            s.add(Upvote(user_id=user_id, paper_id=paper_id, created_at=at))
        elif action == "saved":
            coll = Collection(user_id=user_id, name=f"list {paper_id}")
            s.add(coll)
            s.flush()
            s.add(CollectionItem(collection_id=coll.id, paper_id=paper_id, added_at=at))
        elif action in ("wrote", "claimed"):
            approved = action == "wrote"
            s.add(
                AuthorshipClaim(
                    user_id=user_id,
                    paper_id=paper_id,
                    author_name="Some One",
                    status="approved" if approved else "pending",
                    created_at=at,
                    decided_at=at if approved else None,
                )
            )
        elif action == "shown":
            s.add(ReaderImpression(user_id=user_id, paper_id=paper_id, shown_at=at))
        else:
            s.add(ReaderSignal(user_id=user_id, paper_id=paper_id, kind=action, created_at=at))


def _expected(
    done: list[tuple[int, str, dt.datetime]], forget: dt.datetime | None
) -> tuple[dict[int, str], dict[int, float], set[int]]:
    """(positive kind by paper, negatives, excluded) by the rules of gather's docstrings."""
    ignored = {p for p, a, _ in done if a == "ignored"}
    excluded = {p for p, a, _ in done if a not in ("ignored", "shown")}
    positives: dict[int, str] = {}
    for paper_id, action, at in done:
        kind = "named" if action == "seed" else action
        if kind in KINDS and paper_id not in ignored and (forget is None or at >= forget):
            known = positives.get(paper_id)
            if known is None or KINDS.index(kind) < KINDS.index(known):
                positives[paper_id] = kind
    negatives = {
        p: DISMISSED_WEIGHT
        for p, a, at in done
        if a == "dismissed" and (forget is None or at >= forget)
    }
    for paper_id, action, at in done:
        fresh = forget is None or at >= forget
        if action == "shown" and at < SKIP_BEFORE and paper_id not in excluded and fresh:
            negatives.setdefault(paper_id, SKIPPED_WEIGHT)
    return positives, negatives, excluded


@pytest.mark.parametrize("seed", range(6))
def test_gather_follows_the_rules_on_random_mixes(database: Database, seed: int) -> None:
    rng = random.Random(seed)
    papers = [
        add_paper(database, f"2602.{seed:01d}{n:04d}", title=f"Invented paper {n}")
        for n in range(12)
    ]
    reader, other = add_user(database, "reader"), add_user(database, "other")
    forget = rng.choice([None, NOW - dt.timedelta(days=3)])
    if forget is not None:
        set_prefs(database, reader, forget_before=forget)
    done: list[tuple[int, str, dt.datetime]] = []
    for paper_id in papers:
        # each source at most once a paper (the tables' keys), at a time either side of both
        # forget_before and skip_before
        actions = rng.sample(ACTIONS, rng.randint(0, 3))
        if "wrote" in actions and "claimed" in actions:  # one claim a reader and paper
            actions.remove("claimed")
        for action in actions:
            at = NOW - dt.timedelta(hours=rng.choice([1, 30, 24 * 5]))
            _write(database, reader, paper_id, action, at)
            done.append((paper_id, action, at))
        _write(database, other, paper_id, rng.choice(ACTIONS), NOW - dt.timedelta(hours=30))
    with database.quick_read() as session:
        signals = gather(session, reader, skip_before=SKIP_BEFORE)
    positives, negatives, excluded = _expected(done, forget)
    assert {p.paper_id: p.kind for p in signals.positives} == positives
    assert [p.paper_id for p in signals.positives] == sorted(positives)
    index = {pid: n for n, pid in enumerate(papers)}
    assert all(p.title == f"Invented paper {index[p.paper_id]}" for p in signals.positives)
    assert signals.negatives == negatives
    assert signals.excluded == excluded
    assert signals.shown == {p for p, a, _ in done if a == "shown"}  # whenever shown
