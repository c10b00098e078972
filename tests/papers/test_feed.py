"""The read model (``paperfeed.papers``) on a real database: orders, periods, trending, lookups."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed import papers
from paperfeed.store.db import Database
from tests.factories import add_entry

FRI = dt.date(2025, 3, 7)
MON = dt.date(2025, 3, 10)
TUE = dt.date(2025, 3, 11)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


@pytest.fixture
def db(database: Database) -> Database:
    add_entry(database, "2503.00001", FRI, upvotes=4, submitted_at=at(FRI, 9))
    add_entry(database, "2503.00002", FRI, upvotes=9, submitted_at=at(FRI, 11), submitted_by="al")
    add_entry(database, "2503.00003", FRI, upvotes=4, submitted_at=at(FRI, 7))
    add_entry(database, "2503.00004", FRI, upvotes=0, submitted_at=at(FRI, 6))
    add_entry(database, "2503.00001", MON, submitted_at=at(MON, 10), submitted_by="al")
    add_entry(database, "2503.00005", MON, upvotes=6, submitted_at=at(MON, 8))
    add_entry(database, "2503.00006", TUE, upvotes=1, submitted_at=at(TUE, 8))
    return database


def arxiv_ids(items: list[papers.FeedItem]) -> list[str]:
    return [i.arxiv_id for i in items]


def test_day_order_is_upvotes_then_earlier_submission(db: Database) -> None:
    with db.read() as s:
        items = papers.day_items(s, FRI)
    assert arxiv_ids(items) == ["2503.00002", "2503.00003", "2503.00001", "2503.00004"]
    assert items[0].submitted_by == "al" and items[0].day == FRI


def test_day_submitter_filter(db: Database) -> None:
    with db.read() as s:
        assert arxiv_ids(papers.day_items(s, FRI, submitter="al")) == ["2503.00002"]
        assert papers.day_items(s, dt.date(2025, 3, 8)) == []


def test_period_lists_each_paper_once_with_its_first_day(db: Database) -> None:
    with db.read() as s:
        items = papers.period_items(s, FRI, TUE + dt.timedelta(days=1))
    assert arxiv_ids(items) == [
        "2503.00002",
        "2503.00005",
        "2503.00003",
        "2503.00001",
        "2503.00006",
        "2503.00004",
    ]
    first = next(i for i in items if i.arxiv_id == "2503.00001")
    assert first.day == FRI and first.submitted_at == at(FRI, 9)


def test_period_is_half_open(db: Database) -> None:
    with db.read() as s:
        assert arxiv_ids(papers.period_items(s, MON, TUE)) == ["2503.00005", "2503.00001"]


def test_newest_first(db: Database) -> None:
    with db.read() as s:
        items = papers.newest_first(papers.day_items(s, FRI))
    assert arxiv_ids(items) == ["2503.00002", "2503.00001", "2503.00003", "2503.00004"]


def test_recent_items_pages_through_entries_newest_first(db: Database) -> None:
    with db.read() as s:
        assert arxiv_ids(papers.recent_items(s, 0, 3)) == ["2503.00006", "2503.00001", "2503.00005"]
        assert arxiv_ids(papers.recent_items(s, 3, 2)) == ["2503.00002", "2503.00001"]
        assert arxiv_ids(papers.recent_items(s, 0, 10, submitter="al")) == [
            "2503.00001",
            "2503.00002",
        ]


def test_adjacent_days_skip_empty_days(db: Database) -> None:
    with db.read() as s:
        assert papers.adjacent_days(s, FRI) == (None, MON)  # the weekend is empty
        assert papers.adjacent_days(s, MON) == (FRI, TUE)
        assert papers.adjacent_days(s, dt.date(2025, 3, 8)) == (FRI, MON)
        assert papers.adjacent_days(s, TUE) == (MON, None)
        assert papers.latest_day(s) == TUE


def test_trending_uses_the_newest_submission_when_data_is_old(db: Database) -> None:
    # "now" is far after the last submission: the reference time falls back to it
    # (Tue 08:00), so scores are as if trending were read then, not ~0 for everything.
    with db.read() as s:
        items = papers.trending_items(
            s, half_life_hours=36, window_days=14, now=dt.datetime(2026, 11, 29)
        )
    by_id = {i.arxiv_id: i for i in items}
    assert by_id["2503.00006"].score == pytest.approx(1.0)  # age 0 at the reference time
    assert by_id["2503.00005"].score == pytest.approx(6 * 2 ** (-24 / 36))
    # Each paper once, scored from its latest entry (Mon 10:00 for 2503.00001).
    assert arxiv_ids(items).count("2503.00001") == 1
    assert by_id["2503.00001"].submitted_at == at(MON, 10)
    assert arxiv_ids(items)[0] == "2503.00005"
    assert arxiv_ids(items)[-1] == "2503.00004"  # no votes: last


def test_trending_window_and_current_time(db: Database) -> None:
    with db.read() as s:
        # At Monday noon, Tuesday's paper is in the future and Friday is inside a 4-day window
        # (but not a 3-day one, which starts Friday noon).
        items = papers.trending_items(s, half_life_hours=36, window_days=4, now=at(MON, 12))
        assert "2503.00006" not in arxiv_ids(items)
        assert "2503.00002" in arxiv_ids(items)
        three = papers.trending_items(s, half_life_hours=36, window_days=3, now=at(MON, 12))
        assert set(arxiv_ids(three)) == {"2503.00001", "2503.00005"}
        narrow = papers.trending_items(s, half_life_hours=36, window_days=1, now=at(MON, 12))
        assert set(arxiv_ids(narrow)) == {"2503.00001", "2503.00005"}


def test_period_trending(db: Database) -> None:
    with db.read() as s:
        items = papers.period_trending_items(s, FRI, FRI + dt.timedelta(days=1), half_life_hours=36)
    # Scored at Friday's newest submission (11:00); equal votes: the fresher (09:00) wins.
    assert arxiv_ids(items) == ["2503.00002", "2503.00001", "2503.00003", "2503.00004"]
    assert items[0].score == pytest.approx(9.0)


def test_get_paper(db: Database) -> None:
    with db.read() as s:
        detail = papers.get_paper(s, "2503.00001")
        assert detail is not None
        assert detail.featured_days == [FRI, MON]
        assert detail.item.submitted_at == at(MON, 10) and detail.item.submitted_by == "al"
        versioned = papers.get_paper(s, "2503.00001v2")
        assert versioned is not None and versioned.item.arxiv_id == "2503.00001"
        assert papers.get_paper(s, "2503.09999") is None


def test_search_items(db: Database) -> None:
    with db.read() as s:
        assert arxiv_ids(papers.search_items(s, "paper 2503.00005", 10)) == ["2503.00005"]
        assert arxiv_ids(papers.search_items(s, "100%_", 10)) == []  # LIKE wildcards escaped


def test_iso_week() -> None:
    assert papers.iso_week(FRI) == "2025-W10"
    assert papers.iso_week(dt.date(2021, 1, 1)) == "2020-W53"
