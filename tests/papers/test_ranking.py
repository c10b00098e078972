"""Properties of the daily order and the trending score (papers/ranking.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperfeed.papers import ranking

NOW = dt.datetime(2025, 3, 10, 12, 0)
HALF_LIFE = 36.0

votes = st.integers(min_value=1, max_value=1_000_000)
ages = st.floats(min_value=0, max_value=24 * 60, allow_nan=False)  # hours
half_lives = st.floats(min_value=0.5, max_value=24 * 30, allow_nan=False)


def score(upvotes: int, age_hours: float, half_life: float = HALF_LIFE) -> float:
    return ranking.trending_score(upvotes, NOW - dt.timedelta(hours=age_hours), NOW, half_life)


@given(votes, ages, st.floats(min_value=0.01, max_value=24 * 60), half_lives)
def test_fresher_paper_with_same_votes_outranks_an_older_one(
    upvotes: int, age: float, extra: float, half_life: float
) -> None:
    fresh, old = score(upvotes, age, half_life), score(upvotes, age + extra, half_life)
    assert fresh >= old
    if old > 0:
        assert fresh > old


@given(votes, st.integers(min_value=1, max_value=1000), ages, half_lives)
def test_more_votes_at_the_same_age_rank_higher(
    upvotes: int, more: int, age: float, half_life: float
) -> None:
    low, high = score(upvotes, age, half_life), score(upvotes + more, age, half_life)
    assert high >= low
    if low > 0:
        assert high > low


@given(ages, half_lives)
def test_zero_votes_score_zero(age: float, half_life: float) -> None:
    assert score(0, age, half_life) == 0.0
    assert score(-3, age, half_life) == 0.0


@given(votes, ages, st.lists(st.floats(min_value=0, max_value=500), min_size=1, max_size=8))
def test_score_never_increases_as_time_passes(upvotes: int, age: float, steps: list[float]) -> None:
    previous = score(upvotes, age)
    for step in steps:
        age += step
        current = score(upvotes, age)
        assert current <= previous
        previous = current


@given(votes, half_lives)
def test_exactly_twice_at_one_half_life(upvotes: int, half_life: float) -> None:
    assert score(upvotes, 0, half_life) == pytest.approx(2 * score(upvotes, half_life, half_life))
    assert score(upvotes, 0, half_life) == upvotes


def test_featured_in_the_future_counts_as_fresh() -> None:
    assert ranking.trending_score(5, NOW + dt.timedelta(hours=3), NOW, HALF_LIFE) == 5


def test_half_life_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ranking.trending_score(1, NOW, NOW, 0)


def test_reference_time_is_now_unless_the_feed_stopped_earlier() -> None:
    earlier = NOW - dt.timedelta(days=400)
    assert ranking.reference_time(NOW, None) == NOW
    assert ranking.reference_time(NOW, earlier) == earlier
    assert ranking.reference_time(NOW, NOW + dt.timedelta(hours=1)) == NOW


def test_daily_sort_key_orders_by_votes_then_earlier_submission_then_id() -> None:
    rows = [
        (3, dt.datetime(2025, 3, 3, 9), "b"),
        (3, dt.datetime(2025, 3, 3, 8), "c"),
        (7, dt.datetime(2025, 3, 3, 11), "d"),
        (3, dt.datetime(2025, 3, 3, 8), "a"),
    ]
    ordered = sorted(rows, key=lambda r: ranking.daily_sort_key(*r))
    assert [r[2] for r in ordered] == ["d", "a", "c", "b"]


def test_utc_timestamp_ignores_the_local_zone() -> None:
    naive = dt.datetime(2025, 3, 3, 12)
    assert ranking.utc_timestamp(naive) == naive.replace(tzinfo=dt.UTC).timestamp()
    aware = dt.datetime(2025, 3, 3, 13, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert ranking.utc_timestamp(aware) == ranking.utc_timestamp(naive)
