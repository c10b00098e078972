"""The feed's data access (feed.py) on a real database: orders, periods, trending, parsing."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed import feed
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


def arxiv_ids(items: list[feed.FeedItem]) -> list[str]:
    return [i.arxiv_id for i in items]


def test_day_order_is_upvotes_then_earlier_submission(db: Database) -> None:
    with db.read() as s:
        items = feed.day_items(s, FRI)
    assert arxiv_ids(items) == ["2503.00002", "2503.00003", "2503.00001", "2503.00004"]
    assert items[0].submitted_by == "al" and items[0].day == FRI


def test_day_submitter_filter(db: Database) -> None:
    with db.read() as s:
        assert arxiv_ids(feed.day_items(s, FRI, submitter="al")) == ["2503.00002"]
        assert feed.day_items(s, dt.date(2025, 3, 8)) == []


def test_period_lists_each_paper_once_with_its_first_day(db: Database) -> None:
    with db.read() as s:
        items = feed.period_items(s, FRI, TUE + dt.timedelta(days=1))
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
        assert arxiv_ids(feed.period_items(s, MON, TUE)) == ["2503.00005", "2503.00001"]


def test_newest_first(db: Database) -> None:
    with db.read() as s:
        items = feed.newest_first(feed.day_items(s, FRI))
    assert arxiv_ids(items) == ["2503.00002", "2503.00001", "2503.00003", "2503.00004"]


def test_recent_items_pages_through_entries_newest_first(db: Database) -> None:
    with db.read() as s:
        assert arxiv_ids(feed.recent_items(s, 0, 3)) == ["2503.00006", "2503.00001", "2503.00005"]
        assert arxiv_ids(feed.recent_items(s, 3, 2)) == ["2503.00002", "2503.00001"]
        assert arxiv_ids(feed.recent_items(s, 0, 10, submitter="al")) == [
            "2503.00001",
            "2503.00002",
        ]


def test_adjacent_days_skip_empty_days(db: Database) -> None:
    with db.read() as s:
        assert feed.adjacent_days(s, FRI) == (None, MON)  # the weekend is empty
        assert feed.adjacent_days(s, MON) == (FRI, TUE)
        assert feed.adjacent_days(s, dt.date(2025, 3, 8)) == (FRI, MON)
        assert feed.adjacent_days(s, TUE) == (MON, None)
        assert feed.latest_day(s) == TUE


def test_trending_uses_the_newest_submission_when_data_is_old(db: Database) -> None:
    # "now" is far after the last submission: the reference time falls back to it
    # (Tue 08:00), so scores are as if trending were read then, not ~0 for everything.
    with db.read() as s:
        items = feed.trending_items(
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
        items = feed.trending_items(s, half_life_hours=36, window_days=4, now=at(MON, 12))
        assert "2503.00006" not in arxiv_ids(items)
        assert "2503.00002" in arxiv_ids(items)
        three = feed.trending_items(s, half_life_hours=36, window_days=3, now=at(MON, 12))
        assert set(arxiv_ids(three)) == {"2503.00001", "2503.00005"}
        narrow = feed.trending_items(s, half_life_hours=36, window_days=1, now=at(MON, 12))
        assert set(arxiv_ids(narrow)) == {"2503.00001", "2503.00005"}


def test_period_trending(db: Database) -> None:
    with db.read() as s:
        items = feed.period_trending_items(s, FRI, FRI + dt.timedelta(days=1), half_life_hours=36)
    # Scored at Friday's newest submission (11:00); equal votes: the fresher (09:00) wins.
    assert arxiv_ids(items) == ["2503.00002", "2503.00001", "2503.00003", "2503.00004"]
    assert items[0].score == pytest.approx(9.0)


def test_get_paper(db: Database) -> None:
    with db.read() as s:
        detail = feed.get_paper(s, "2503.00001")
        assert detail is not None
        assert detail.featured_days == [FRI, MON]
        assert detail.item.submitted_at == at(MON, 10) and detail.item.submitted_by == "al"
        versioned = feed.get_paper(s, "2503.00001v2")
        assert versioned is not None and versioned.item.arxiv_id == "2503.00001"
        assert feed.get_paper(s, "2503.09999") is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2501.01234v2", "2501.01234"),
        ("2501.01234", "2501.01234"),
        ("hep-th/9901001v1", "hep-th/9901001"),
        ("math.GT/0309136v3", "math.GT/0309136"),
        ("nonsense-v2", "nonsense-v2"),
    ],
)
def test_unversioned_id(given: str, expected: str) -> None:
    assert feed.unversioned_id(given) == expected


def test_search_items(db: Database) -> None:
    with db.read() as s:
        assert arxiv_ids(feed.search_items(s, "paper 2503.00005", 10)) == ["2503.00005"]
        assert arxiv_ids(feed.search_items(s, "100%_", 10)) == []  # LIKE wildcards escaped


def test_parse_day() -> None:
    assert feed.parse_day("2025-03-07") == FRI
    for bad in ("2025-3-7", "2025-02-30", "07-03-2025", "", "2025-03-07x"):
        with pytest.raises(feed.BadPeriod):
            feed.parse_day(bad)


def test_parse_week() -> None:
    assert feed.parse_week("2025-W10") == (dt.date(2025, 3, 3), dt.date(2025, 3, 10))
    assert feed.parse_week("2020-W53")[0] == dt.date(2020, 12, 28)  # a 53-week year
    for bad in ("2025-W54", "2025-W00", "2025-W1", "2025W10", "2025-10", "2021-W53"):
        with pytest.raises(feed.BadPeriod):
            feed.parse_week(bad)


def test_parse_month() -> None:
    assert feed.parse_month("2025-12") == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))
    assert feed.parse_month("2025-02") == (dt.date(2025, 2, 1), dt.date(2025, 3, 1))
    for bad in ("2025-13", "2025-00", "2025-1", "0000-05", "2025-03-01"):
        with pytest.raises(feed.BadPeriod):
            feed.parse_month(bad)


def test_iso_week() -> None:
    assert feed.iso_week(FRI) == "2025-W10"
    assert feed.iso_week(dt.date(2021, 1, 1)) == "2020-W53"
