"""Readers on hand-written records in each format."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from paperfeed.sources.readers import read_arxiv_snapshot, read_daily_papers, read_jsonl
from paperfeed.sources.records import clean_abstract, parse_authors, parse_datetime

from .conftest import write_lines

SNAPSHOT = {
    "id": "hep-th/9901001",
    "submitter": "Carla Invented",
    "authors": "C. Invented, D. Madeup and E. Sample",
    "title": "A   Made-up\n  Duality for Test Strings",
    "comments": "12 pages, 2 figures",
    "journal-ref": "Invented Phys. Lett. B 1 (1999) 1",
    "doi": "10.0000/invented.1",
    "license": None,
    "categories": "hep-th math-ph math.MP",
    "abstract": (
        "  We invent a duality.\nIt is used only in tests.\n  A second paragraph\nfollows.\n"
    ),
    "versions": [
        {"version": "v1", "created": "Fri, 1 Jan 1999 10:00:00 GMT"},
        {"version": "v2", "created": "Mon, 15 Mar 1999 08:30:00 GMT"},
    ],
    "update_date": "2008-11-26",
    "authors_parsed": [["Invented", "Carla", ""], ["Madeup", "Dan", "Jr"], ["Sample", "E.", ""]],
}


def test_snapshot_reader(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "snap.json", [SNAPSHOT, {**SNAPSHOT, "id": "math/0501001"}])
    items = list(read_arxiv_snapshot([path]))
    assert [i.error for i in items] == [None, None]
    rec = items[0].record
    assert rec is not None
    assert rec.arxiv_id == "hep-th/9901001"
    assert rec.title == "A Made-up Duality for Test Strings"
    assert rec.abstract == (
        "We invent a duality. It is used only in tests.\n\nA second paragraph follows."
    )
    assert rec.authors == ["Carla Invented", "Dan Madeup Jr", "E. Sample"]
    assert rec.categories == ["hep-th", "math-ph", "math.MP"]
    assert rec.primary_category == "hep-th"
    assert rec.published_at == dt.datetime(1999, 1, 1, 10, 0)
    assert rec.updated_at == dt.datetime(1999, 3, 15, 8, 30)
    assert rec.version == 2
    assert rec.journal_ref and rec.doi == "10.0000/invented.1"
    assert rec.submitter == "Carla Invented"
    assert items[1].record is not None and items[1].record.arxiv_id == "math/0501001"


def test_snapshot_reader_gz_and_authors_string_fallback(tmp_path: Path) -> None:
    row = {**SNAPSHOT, "authors_parsed": None}
    path = write_lines(tmp_path / "snap.json.gz", [row], gz=True)
    (item,) = read_arxiv_snapshot([path])
    assert item.record is not None
    assert item.record.authors == ["C. Invented", "D. Madeup", "E. Sample"]


def test_jsonl_reader_field_variants(tmp_path: Path) -> None:
    rows = [
        {
            "arxiv_id": "https://arxiv.org/abs/2502.01234v3",
            "title": "Invented Title One",
            "summary": "Invented summary.",
            "authors": [{"name": "Ann Example"}, {"name": "Ben Example"}],
            "categories": "cs.CL cs.AI",
            "publishedAt": "2025-02-03T04:05:06.789Z",
            "updated_at": "2025-02-05T00:00:00+02:00",
            "comments": "Accepted at an invented venue",
            "journal-ref": "Invented J. 1",
        },
        {
            "paper_id": "2502.01235",
            "title": "Invented Title Two",
            "abstract": "A.",
            "authors": "Ann Example, Ben Example and Cid Example",
            "categories": ["cs.CV"],
            "extra_classes": ["68T07", "I.2.7"],
            "primary_category": "cs.CV",
            "first_listed": "2025-02-07",
            "version": 2,
        },
        {
            "entry_id": "http://arxiv.org/abs/2502.01236v1",
            "title": "Invented Title Three",
            "authors": "['Ann Example', 'Ben Example']",
            "published": "2025-02-03",
        },
    ]
    items = list(read_jsonl([write_lines(tmp_path / "p.jsonl", rows)]))
    assert [i.error for i in items] == [None, None, None]
    one, two, three = (i.record for i in items)
    assert one is not None and two is not None and three is not None
    assert (one.arxiv_id, one.version) == ("2502.01234", 3)
    assert one.abstract == "Invented summary."
    assert one.authors == ["Ann Example", "Ben Example"]
    assert one.categories == ["cs.CL", "cs.AI"] and one.primary_category == "cs.CL"
    assert one.published_at == dt.datetime(2025, 2, 3, 4, 5, 6, 789000)
    assert one.updated_at == dt.datetime(2025, 2, 4, 22, 0)
    assert one.comment == "Accepted at an invented venue" and one.journal_ref == "Invented J. 1"
    assert two.authors == ["Ann Example", "Ben Example", "Cid Example"]
    assert two.categories == ["cs.CV"]  # extra_classes dropped
    assert two.published_at == dt.datetime(2025, 2, 7)
    assert two.version == 2
    assert three.authors == ["Ann Example", "Ben Example"]
    assert three.version == 1


def test_daily_papers_api_array(tmp_path: Path) -> None:
    items = [
        {
            "paper": {
                "id": "2503.04321",
                "authors": [{"_id": "x", "name": "Ann Example", "hidden": False}],
                "publishedAt": "2025-03-05T17:59:00.000Z",
                "submittedOnDailyAt": "2025-03-06T01:02:03.456Z",
                "title": "Invented Daily Paper",
                "summary": "An invented summary\nwith a hard break.",
                "upvotes": 42,
                "githubRepo": "https://github.com/example/invented",
                "githubStars": 7,
                "projectPage": "https://example.org/invented",
                "ai_summary": "Invented AI summary.",
                "ai_keywords": ["invented", "test"],
                "submittedOnDailyBy": {"user": "daily-bot", "fullname": "Bot"},
            },
            "publishedAt": "2025-03-06T01:02:03.456Z",
            "title": "Invented Daily Paper",
            "summary": "An invented summary\nwith a hard break.",
            "numComments": 3,
            "submittedBy": {"user": "someone", "fullname": "Some One"},
            "organization": {"name": "invented-lab", "fullname": "Invented Lab"},
        }
    ]
    path = tmp_path / "daily.json"
    path.write_text("\n  " + json.dumps(items, indent=1))
    (item,) = read_daily_papers([path])
    rec = item.record
    assert rec is not None and rec.daily is not None
    assert item.line == 3
    assert rec.arxiv_id == "2503.04321" and rec.upvotes == 42 and rec.num_comments == 3
    assert rec.abstract == "An invented summary with a hard break."
    assert rec.daily.day == dt.date(2025, 3, 6)
    assert rec.daily.submitted_at == dt.datetime(2025, 3, 6, 1, 2, 3, 456000)
    assert rec.daily.submitted_by == "someone"
    assert rec.organization == "Invented Lab"
    assert rec.github_stars == 7 and rec.ai_keywords == ["invented", "test"]


def test_daily_papers_json_lines(tmp_path: Path) -> None:
    row = {
        "arxiv_id": "2503.04322",
        "daily_date": "2025-03-07",
        "title": "Invented Listing",
        "abstract": "Invented.",
        "authors": ["Ann Example"],
        "n_authors": 1,
        "published_at": "2025-03-05T10:00:00.000Z",
        "submitted_on_daily_at": "2025-03-06T23:30:00.000Z",
        "upvotes": 5,
        "num_comments": 1,
        "github_repo": None,
        "organization": "Invented Lab",
    }
    (item,) = read_daily_papers([write_lines(tmp_path / "d.jsonl", [row])])
    rec = item.record
    assert rec is not None and rec.daily is not None
    assert rec.daily.day == dt.date(2025, 3, 7)  # daily_date, not the submission's UTC date
    assert rec.daily.submitted_by is None
    assert rec.upvotes == 5 and rec.organization == "Invented Lab"


def test_broken_array_reports_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n {"paper": {"id": "2503.04321", "title": "T", \n "submittedOnDailyAt"')
    (item,) = read_daily_papers([path])
    assert item.error and item.error.startswith("invalid JSON")
    assert item.line == 3


def test_helpers() -> None:
    assert parse_authors("A. One and B. Two") == ["A. One", "B. Two"]
    assert parse_authors([["Last", "First", ""]]) == ["First Last"]
    assert parse_datetime("2025-05-10 22:42:29 UTC") == dt.datetime(2025, 5, 10, 22, 42, 29)
    assert parse_datetime("Mon, 2 Apr 2007 19:18:42 GMT") == dt.datetime(2007, 4, 2, 19, 18, 42)
    assert clean_abstract("one\ntwo\n\nthree") == "one two\n\nthree"
