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
