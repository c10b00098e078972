"""The query language: words, phrases, filters, ids, and input that must never fail."""

from __future__ import annotations

import datetime as dt

import pytest

from paperfeed.search.query import MAX_QUERY_CHARS, QueryError, parse_query


def test_words_and_phrases() -> None:
    q = parse_query('Recurrent  planners "lattice lanterns" glow')
    assert q.terms == ["recurrent", "planners", "glow"]
    assert q.phrases == [["lattice", "lanterns"]]
    assert q.semantic_text == "Recurrent planners lattice lanterns glow"
    assert not q.has_filters and q.has_constraints


def test_filters() -> None:
    q = parse_query('author:"Ada Lovelace" cat:cs.AI year:2023..2024 has:code planners')
    assert q.terms == ["planners"]
    assert q.authors == [["ada", "lovelace"]]
    assert q.categories == ["cs.ai"]
    assert (q.date_from, q.date_to) == (dt.date(2023, 1, 1), dt.date(2025, 1, 1))
    assert q.has_code


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("year:2024", dt.date(2024, 1, 1), dt.date(2025, 1, 1)),
        ("year:2022-2023", dt.date(2022, 1, 1), dt.date(2024, 1, 1)),
        ("year:2024..", dt.date(2024, 1, 1), None),
        ("date:2024-03..2024-06-15", dt.date(2024, 3, 1), dt.date(2024, 6, 16)),
        ("date:2024-02", dt.date(2024, 2, 1), dt.date(2024, 3, 1)),
        ("after:2024-06", dt.date(2024, 7, 1), None),
        ("since:2024-06", dt.date(2024, 6, 1), None),
        ("before:2025", None, dt.date(2025, 1, 1)),
        ("until:2024-12-31", None, dt.date(2025, 1, 1)),
        ("category:cs.CL date:2025-12..", dt.date(2025, 12, 1), None),
    ],
)
def test_date_ranges(text: str, start: dt.date | None, end: dt.date | None) -> None:
    q = parse_query(text)
    assert (q.date_from, q.date_to) == (start, end)


@pytest.mark.parametrize(
    "text",
    [
        "year:soon",
        "year:20245",
        "date:2024-13",
        "date:2024-02-30",
        "cat:c$",
        "has:data",
        "year:2025..2024",
        "year:1200",
    ],
)
def test_malformed_filters_raise(text: str) -> None:
    with pytest.raises(QueryError):
        parse_query(text)


@pytest.mark.parametrize(
    ("text", "arxiv_id"),
    [
        ("2401.01234", "2401.01234"),
        ("2401.01234v3", "2401.01234"),
        ("arXiv:2401.01234", "2401.01234"),
        ("https://arxiv.org/abs/2401.01234v2", "2401.01234"),
        ("https://arxiv.org/pdf/2401.01234.pdf", "2401.01234"),
        ("  hep-th/9901001 ", "hep-th/9901001"),
    ],
)
def test_arxiv_id_goes_straight_to_the_paper(text: str, arxiv_id: str) -> None:
    q = parse_query(text)
    assert q.arxiv_id == arxiv_id
    assert q.terms == []


def test_id_like_word_is_a_hint() -> None:
    assert parse_query("planners 2401.01234").id_hint == "2401.01234"
    assert parse_query("planners 2401.1234").id_hint == "2401.01234"  # digit dropped
    assert parse_query("planners").id_hint is None


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced quote',
        'two "phrases" "and one open',
        "AND OR NOT ( ) [ ] { } : ^ ~ * ? \\ / + - ! \" ' ` < > =",
        "title:foo abstract:(bar) id:7 IN [1 2]",
        "\x00\x01\x1b[31mred\x7f\u200b\u202e",
        "a" * 10_000,
        "ðŸ¦˜ 漢字 ﻿ñ",
        "author: cat: year: ::::",
    ],
)
def test_hostile_text_never_raises(text: str) -> None:
    q = parse_query(text)
    assert len(q.text) <= MAX_QUERY_CHARS
    assert all(w.isalnum() for w in q.words)
    assert all(ord(c) >= 32 for c in q.text)


def test_unbalanced_quote_reads_as_closed_at_the_end() -> None:
    assert parse_query('planners "lattice lanterns').phrases == [["lattice", "lanterns"]]


def test_many_words_are_capped() -> None:
    q = parse_query(" ".join(f"w{i}" for i in range(500)))
    assert len(q.terms) == 32


def test_common_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert parse_query("a study of the lanterns in planners").terms == ["lanterns", "planners"]
    assert parse_query("the who").terms == ["the", "who"]
    assert parse_query('"the lanterns of planners"').phrases == [
        ["the", "lanterns", "of", "planners"]
    ]


def test_semantic_text_is_the_query_without_filters() -> None:
    q = parse_query('a model that reads maps cat:cs.AI year:2025 "tiny models"')
    assert q.semantic_text == "a model that reads maps tiny models"
    assert parse_query("cat:cs.AI").semantic_text == ""
