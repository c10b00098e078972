"""recommend(): what a reader is shown, in which order, and what is recorded as shown."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from paperfeed.config import Settings
from paperfeed.recommend import service
from paperfeed.recommend.service import Recommendations, recommend
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import corpus, rank_settings

__all__ = ["corpus", "rank_settings"]


def everything(
    db: Database, settings: Settings, user_id: int, corpus: rc.Corpus
) -> Recommendations:
    return recommend(
        db, settings, user_id, start=rc.FIRST_DAY, end=corpus.last_day, limit=100, record=False
    )


def ids_of(found: Recommendations, corpus: rc.Corpus) -> list[int]:
    by_arxiv = {a: p for p, a in corpus.arxiv_of.items()}
    return [by_arxiv[r.item.arxiv_id] for r in found.items]


def test_nearest_puts_the_upvoted_topic_first_and_says_why(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    liked = corpus.topics["B"][3]
    rc.upvote(database, reader, liked)
    found = everything(database, rank_settings, reader, corpus)
    assert found.method == "nearest"
    ranked = ids_of(found, corpus)
    assert liked not in ranked
    assert [corpus.topic_of(p) for p in ranked[:11]] == ["B"] * 11
    assert found.items[0].reason == "close to “Topic B paper 7”, which you upvoted"
    scores = [r.score for r in found.items]
    assert scores == sorted(scores, reverse=True)


def test_an_upvote_changes_the_ranking(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, corpus.topics["A"][0])
    before = ids_of(everything(database, rank_settings, reader, corpus), corpus)
    assert corpus.topic_of(before[0]) == "A"
    rc.upvote(database, reader, corpus.topics["B"][0])
    after = ids_of(everything(database, rank_settings, reader, corpus), corpus)
    assert {corpus.topic_of(p) for p in after[:4]} == {"A", "B"}


def margin(found: Recommendations, corpus: rc.Corpus) -> float:
    """How far topic A's papers score above topic B's, on average."""
    by_topic: dict[str, list[float]] = {"A": [], "B": []}
    for paper_id, rec in zip(ids_of(found, corpus), found.items, strict=True):
        by_topic[corpus.topic_of(paper_id)].append(rec.score)
    return float(np.mean(by_topic["A"]) - np.mean(by_topic["B"]))


@pytest.mark.parametrize("negative", ["dismissed", "skipped"])
def test_a_dismissal_or_a_skipped_impression_lowers_that_topic(
    database: Database, rank_settings: Settings, corpus: rc.Corpus, negative: str
) -> None:
    reader = rc.add_user(database, "ranker")
    a, b = corpus.topics["A"], corpus.topics["B"]
    rc.upvote(database, reader, *a[:3], *b[:3])
    before = everything(database, rank_settings, reader, corpus)
    assert before.method == "linear"
    if negative == "dismissed":
        rc.signal(database, reader, "dismissed", *b[3:7])
    else:
        rc.shown(database, reader, *b[3:9], hours_ago=30)
    from paperfeed.recommend import train

    train.train(database, rank_settings, reader)
    after = everything(database, rank_settings, reader, corpus)
    assert margin(after, corpus) > margin(before, corpus) + 0.01


def test_a_recent_impression_is_not_yet_a_negative(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    from paperfeed.recommend import train

    reader = rc.add_user(database, "ranker")
    b = corpus.topics["B"]
    rc.upvote(database, reader, *corpus.topics["A"][:3], *b[:3])
    first = train.train(database, rank_settings, reader)
    rc.shown(database, reader, *b[3:9], hours_ago=1)
    again = train.train(database, rank_settings, reader)
    assert again.fingerprint == first.fingerprint
    assert again.negatives == first.negatives


def test_never_recommends_what_the_reader_gave_or_dismissed(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    a, b = corpus.topics["A"], corpus.topics["B"]
    rc.upvote(database, reader, a[0])
    rc.save(database, reader, a[1])
    rc.claim(database, reader, a[2])
    rc.claim(database, reader, b[5], status="pending")
    rc.signal(database, reader, "seed", a[3])
    rc.signal(database, reader, "dismissed", a[4], b[0])
    rc.signal(database, reader, "ignored", a[0])  # not learned from, still never recommended
    found = ids_of(everything(database, rank_settings, reader, corpus), corpus)
    given = {a[0], a[1], a[2], a[3], a[4], b[0], b[5]}
    assert given.isdisjoint(found)
    assert len(found) == 2 * len(a) - len(given)


def test_the_date_range_is_a_slice_of_first_publication_days(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, corpus.topics["A"][0])
    start, end = rc.FIRST_DAY + dt.timedelta(days=4), rc.FIRST_DAY + dt.timedelta(days=9)
    found = recommend(database, rank_settings, reader, start=start, end=end, limit=50)
    days = {corpus.day_of[p] for p in ids_of(found, corpus)}
    assert days == {start + dt.timedelta(days=i) for i in range(6)}
    one = recommend(database, rank_settings, reader, start=end, end=end, limit=50)
    assert [corpus.day_of[p] for p in ids_of(one, corpus)] == [end]
    none = recommend(
        database, rank_settings, reader, start=dt.date(2020, 1, 1), end=dt.date(2020, 2, 1), limit=5
    )
    assert none.items == []


def test_limit_and_trending_when_nothing_is_known(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "newcomer")
    found = recommend(
        database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=5
    )
    assert found.method == "trending"
    assert len(found.items) == 5
    assert {r.reason for r in found.items} == {"trending this week"}
    upvotes = [r.item.upvotes for r in found.items]
    assert upvotes == sorted(upvotes, reverse=True)


def test_impressions_are_recorded_once_and_capped(
    database: Database,
    rank_settings: Settings,
    corpus: rc.Corpus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, corpus.topics["A"][0])
    first = recommend(
        database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=3
    )
    seen = rc.impressions(database, reader)
    assert set(seen) == set(ids_of(first, corpus))
    shown_old = {p: at - dt.timedelta(hours=2) for p, at in seen.items()}
    recommend(database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=3)
    assert rc.impressions(database, reader) == seen  # the first showing is kept
    assert all(seen[p] > shown_old[p] for p in seen)
    recommend(
        database,
        rank_settings,
        reader,
        start=rc.FIRST_DAY,
        end=corpus.last_day,
        limit=3,
        record=False,
    )
    monkeypatch.setattr(service, "MAX_IMPRESSIONS", 4)
    recommend(database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=6)
    assert len(rc.impressions(database, reader)) == 4


def test_trending_keeps_to_the_publication_range(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    from tests.factories import add_entry

    reader = rc.add_user(database, "newcomer")
    day = rc.FIRST_DAY + dt.timedelta(days=5)
    # featured in the range, published long before it: not in it
    add_entry(database, "2401.00001", day, upvotes=90, published_at=dt.datetime(2024, 1, 2))
    # published in it, featured days later: in it, first
    add_entry(database, corpus.arxiv_of[corpus.topics["A"][2]], day + dt.timedelta(days=3))
    late = rc.FIRST_DAY + dt.timedelta(days=4)
    with database.write() as s:
        paper = s.get(Paper, corpus.topics["A"][2])
        assert paper is not None
        paper.imported_upvotes, paper.published_at = 40, dt.datetime.combine(late, dt.time(9))
        unfeatured = s.get(Paper, corpus.topics["B"][2])
        assert unfeatured is not None and corpus.day_of[unfeatured.id] == day
        unfeatured.imported_upvotes = 60  # more votes, but never on a daily list
    found = recommend(database, rank_settings, reader, start=late, end=day, limit=10)
    assert found.method == "trending"
    arxiv_ids = [r.item.arxiv_id for r in found.items]
    assert "2401.00001" not in arxiv_ids
    assert arxiv_ids[0] == corpus.arxiv_of[corpus.topics["A"][2]]
    assert len(arxiv_ids) == 2
