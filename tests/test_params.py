"""The value grammars (``paperfeed.params``): ASCII digits with bounds, periods that stay
inside the calendar, text without NUL, controls or lone surrogates, signed-token shapes."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed import params
from paperfeed.papers.ids import is_arxiv_id
from paperfeed.params import BadPeriod, BadValue

ODD_NUMBERS = ["²", "٣", "1²", "١٢", " 1", "1 ", "+1", "-1", "1.0", "", str(10**30), "0x1"]


@pytest.mark.parametrize("text", ODD_NUMBERS)
def test_whole_number_takes_ascii_digits_within_bounds_only(text: str) -> None:
    with pytest.raises(BadValue, match="page must be a whole number from 1 to 100"):
        params.whole_number(text, 1, 100, "page")


def test_whole_number_reads_plain_digits() -> None:
    assert params.whole_number("007", 1, 100, "page") == 7
    assert params.optional_id("", "parent_id") is None
    assert params.optional_id("12", "parent_id") == 12
    with pytest.raises(BadValue):
        params.optional_id(str(2**31), "parent_id")


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (params.parse_day, "9999-12-31"),
        (params.parse_day, "0000-01-01"),
        (params.parse_day, "٢٠٢٥-٠٣-٠٧"),
        (params.parse_day, "2025-02-30"),
        (params.parse_day, "2025-03-07\n"),
        (params.parse_week, "9999-W52"),
        (params.parse_week, "2025-W54"),
        (params.parse_week, "²⁰²⁵-W01"),
        (params.parse_month, "9999-12"),
        (params.parse_month, "0000-01"),
        (params.parse_month, "2025-13"),
    ],
)
def test_periods_outside_the_grammar_or_the_years_are_refused(parse: object, text: str) -> None:
    with pytest.raises(BadPeriod):
        parse(text)  # type: ignore[operator]


def test_periods_at_the_edges_of_the_years_have_their_next_day() -> None:
    assert params.parse_day("2999-12-31") == dt.date(2999, 12, 31)
    assert params.parse_week("2999-W52")[1] == dt.date(2999, 12, 30)
    assert params.parse_month("2999-12") == (dt.date(2999, 12, 1), dt.date(3000, 1, 1))
    assert params.parse_month(f"{params.MIN_YEAR}-01")[0] == dt.date(1900, 1, 1)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a\x00b", "control character (U+0000)"),
        ("\x1b[31m", "control character (U+001B)"),
        ("\x7f", "control character (U+007F)"),
        ("x\ud800", "lone surrogate"),
        ("x" * 11, "longer than 10"),
    ],
)
def test_text_problems_are_named(text: str, problem: str) -> None:
    assert problem in (params.text_problem(text, 10) or "")
    with pytest.raises(BadValue, match="body"):
        params.check_text(text, "body", 10)


def test_ordinary_text_passes() -> None:
    assert params.text_problem("line one\r\n\tline two — é ✓", 100) is None


@pytest.mark.parametrize(
    "token",
    ["1.2", "1.2.3.mac", "².2.mac", "1.٣.mac", f"{2**62 + 1}.2.mac", "1.2.", "1.2.mäc", "-1.2.m"],
)
def test_signed_token_shapes(token: str) -> None:
    with pytest.raises(BadValue):
        params.signed_token(token, 2)


def test_signed_token_parts() -> None:
    assert params.signed_token("12.345.abcdef", 2) == ([12, 345], "abcdef")


@pytest.mark.parametrize(
    "text", ["٢٤٠١.٠١٢٣٤", "2401.01234\x00", "2401.0123٤", "hep-th/990100١", "２４０１.０１２３４"]
)
def test_arxiv_ids_are_ascii(text: str) -> None:
    assert not is_arxiv_id(text)


def test_parse_day() -> None:
    assert params.parse_day("2025-03-07") == dt.date(2025, 3, 7)
    for bad in ("2025-3-7", "2025-02-30", "07-03-2025", "", "2025-03-07x"):
        with pytest.raises(params.BadPeriod):
            params.parse_day(bad)


def test_parse_week() -> None:
    assert params.parse_week("2025-W10") == (dt.date(2025, 3, 3), dt.date(2025, 3, 10))
    assert params.parse_week("2020-W53")[0] == dt.date(2020, 12, 28)  # a 53-week year
    for bad in ("2025-W54", "2025-W00", "2025-W1", "2025W10", "2025-10", "2021-W53"):
        with pytest.raises(params.BadPeriod):
            params.parse_week(bad)


def test_parse_month() -> None:
    assert params.parse_month("2025-12") == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))
    assert params.parse_month("2025-02") == (dt.date(2025, 2, 1), dt.date(2025, 3, 1))
    for bad in ("2025-13", "2025-00", "2025-1", "0000-05", "2025-03-01"):
        with pytest.raises(params.BadPeriod):
            params.parse_month(bad)
