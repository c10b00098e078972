"""record_impressions: a repeated answer (every paper already recorded) takes no write
transaction, so a reader reloading the same answer never waits for SQLite's one writer."""

from __future__ import annotations

import pytest

from paperfeed.config import Settings
from paperfeed.recommend.service import record_impressions
from paperfeed.store.db import Database
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import corpus, rank_settings

__all__ = ["corpus", "rank_settings"]


def test_a_repeated_answer_writes_nothing(
    database: Database, rank_settings: Settings, corpus: rc.Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = rc.add_user(database, "reader")
    shown = corpus.topics["A"][:3]
    record_impressions(database, reader, shown)
    assert set(rc.impressions(database, reader)) == set(shown)

    def no_write(*args: object, **kwargs: object) -> None:
        raise AssertionError("a write was opened")

    monkeypatch.setattr(database, "write", no_write)
    record_impressions(database, reader, list(reversed(shown)))  # nothing new: no write
    with pytest.raises(AssertionError, match="a write was opened"):
        record_impressions(database, reader, [*shown, corpus.topics["B"][0]])


@pytest.mark.parametrize("known", ["none", "all", "some", "stale"])
def test_what_is_recorded_does_not_depend_on_the_impressions_passed_in(
    database: Database, rank_settings: Settings, corpus: rc.Corpus, known: str
) -> None:
    """``shown`` (the impressions gather just read) only spares a look-up: with it complete,
    partial, empty though papers were recorded meanwhile, or absent, the same rows result."""
    reader = rc.add_user(database, "reader")
    before, answer = corpus.topics["A"][:3], [*corpus.topics["A"][1:3], *corpus.topics["B"][:2]]
    record_impressions(database, reader, before)
    recorded = rc.impressions(database, reader)
    shown = {"none": None, "all": set(before), "some": {before[1]}, "stale": set[int]()}[known]
    record_impressions(database, reader, answer, shown=shown)
    after = rc.impressions(database, reader)
    assert set(after) == set(before) | set(answer)
    assert {p: after[p] for p in before} == recorded  # first showings are kept


def test_a_repeated_recommendation_writes_nothing(
    database: Database, rank_settings: Settings, corpus: rc.Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.recommend.service import recommend

    reader = rc.add_user(database, "reader")
    rc.upvote(database, reader, *corpus.topics["A"][:4])

    first = recommend(
        database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=10
    )
    recorded = {corpus.arxiv_of[p] for p in rc.impressions(database, reader)}
    assert recorded == {r.item.arxiv_id for r in first.items} != set()

    def no_write(*args: object, **kwargs: object) -> None:
        raise AssertionError("a write was opened")

    monkeypatch.setattr(database, "write", no_write)
    again = recommend(
        database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=10
    )
    assert [r.item.arxiv_id for r in again.items] == [r.item.arxiv_id for r in first.items]
