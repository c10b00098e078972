"""One bad value costs its own record only: every reader format, on both databases.

Each case writes three records (good, bad, good) in one format and ingests them through the
CLI: the two good ones are stored, the bad one is reported as ``file:line: reason``, exit 3.
Every title and abstract here is invented for the tests.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result

from paperfeed.sources.records import latest_day
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper

from .conftest import paper_line
from .test_ingest_readers import SNAPSHOT

Invoke = Callable[..., Result]
IDS = ("2501.00001", "2501.00002", "2501.00003")


def snapshot_row(arxiv_id: str, bad: dict[str, Any]) -> dict[str, Any]:
    return {**SNAPSHOT, "id": arxiv_id, **bad}


def jsonl_row(arxiv_id: str, bad: dict[str, Any]) -> dict[str, Any]:
    return paper_line(arxiv_id, **bad)


def daily_row(arxiv_id: str, bad: dict[str, Any]) -> dict[str, Any]:
    return paper_line(arxiv_id, **{"daily_date": "2025-01-11", **bad})


def api_item(arxiv_id: str, bad: dict[str, Any]) -> dict[str, Any]:
    """An element of the Daily Papers API array; ``bad`` goes into its paper object."""
    paper = {
        "id": arxiv_id,
        "title": f"Invented Daily Paper {arxiv_id}",
        "summary": "An invented summary.",
        "authors": [{"name": "Ann Example"}],
        "publishedAt": "2025-01-09T10:00:00.000Z",
        "submittedOnDailyAt": "2025-01-11T02:00:00.000Z",
        "upvotes": 5,
        **bad,
    }
    return {"paper": paper, "numComments": 1}


def write_rows(path: Path, rows: list[dict[str, Any]], *, gz: bool = False) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())


def write_gz(path: Path, rows: list[dict[str, Any]]) -> None:
    write_rows(path, rows, gz=True)


def write_array(path: Path, rows: list[dict[str, Any]]) -> None:
    """One element a line, so element i (from 0) starts on line i + 2."""
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")


# format -> (command, file name, row maker, writer, line of the second record)
FORMATS: dict[str, tuple[str, str, Callable[..., dict[str, Any]], Callable[..., None], int]] = {
    "snapshot": ("arxiv-snapshot", "snap.json", snapshot_row, write_rows, 2),
    "jsonl": ("jsonl", "papers.jsonl", jsonl_row, write_rows, 2),
    "jsonl.gz": ("jsonl", "papers.jsonl.gz", jsonl_row, write_gz, 2),
    "daily-lines": ("daily-papers", "daily.jsonl", daily_row, write_rows, 2),
    "daily-array": ("daily-papers", "daily.json", api_item, write_array, 3),
}  # fmt: skip

HUGE = 10**30  # orjson reads it as a float; int() of it overflows SQLite's INTEGER
CASES = [
    ("jsonl", {"version": "²"}, "bad version '²'"),
    ("jsonl", {"upvotes": "²"}, "bad upvotes '²'"),
    ("jsonl", {"upvotes": 1e300}, "bad upvotes 1e+300"),
    ("jsonl", {"num_comments": HUGE}, "bad num_comments 1e+30"),
    ("jsonl", {"github_stars": 2**31}, "bad github_stars 2147483648"),
    ("jsonl", {"published": "2099-01-01"}, "bad date '2099-01-01' (not between 1991-01-01"),
    ("jsonl", {"published": "1985-06-01"}, "bad date '1985-06-01' (not between 1991-01-01"),
    ("jsonl", {"updated": "0001-01-01T00:00:00+01:00"}, "bad date"),
    ("jsonl.gz", {"upvotes": "²"}, "bad upvotes '²'"),
    ("jsonl.gz", {"github_stars": 2**31}, "bad github_stars 2147483648"),
    ("daily-lines", {"daily_date": "9999-12-31"}, "bad date '9999-12-31' (not between"),
    ("daily-lines", {"upvotes": 1e300}, "bad upvotes 1e+300"),
    ("daily-lines", {"version": "v²"}, "bad version 'v²'"),
    ("daily-lines", {"github_stars": 2**31}, "bad github_stars 2147483648"),
    ("daily-array", {"title": "Lone \ud800 surrogate"}, "title: not valid Unicode"),
    ("daily-array", {"upvotes": "²"}, "bad upvotes '²'"),
    ("daily-array", {"upvotes": 1e300}, "bad upvotes 1e+300"),
    ("daily-array", {"githubStars": 2**31}, "bad githubStars 2147483648"),
    ("daily-array", {"submittedOnDailyAt": "9999-12-31T00:00:00.000Z"}, "bad date"),
    ("snapshot", {"versions": [{"version": "v²", "created": "Fri, 1 Jan 1999 10:00:00 GMT"}]},
     "bad version 'v²'"),
    ("snapshot", {"versions": [{"version": "v1", "created": "Sat, 1 Jan 2099 10:00:00 GMT"}]},
     "bad date"),
]  # fmt: skip


def arxiv_ids(db: Database) -> set[str]:
    with db.read() as s:
        return set(s.execute(sa.select(Paper.arxiv_id)).scalars())


@pytest.mark.parametrize(("fmt", "bad", "reason"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bad_value_costs_only_its_record(
    fmt: str, bad: dict[str, Any], reason: str, tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    command, name, row, write, bad_line = FORMATS[fmt]
    path = tmp_path / name
    write(path, [row(IDS[0], {}), row(IDS[1], bad), row(IDS[2], {})])
    result = invoke("ingest", command, "--no-index", str(path))
    assert result.exit_code == 3, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        "read 3, inserted 2, updated 0, unchanged 0, rejected 1"
    )
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith(f"{path}:{bad_line}: {reason}"), error
    assert arxiv_ids(database) == {IDS[0], IDS[2]}


def test_strict_stops_at_a_bad_value(tmp_path: Path, invoke: Invoke, database: Database) -> None:
    path = tmp_path / "p.jsonl"
    write_rows(path, [paper_line(IDS[0]), paper_line(IDS[1], upvotes="²"), paper_line(IDS[2])])
    result = invoke("ingest", "jsonl", "--strict", "--no-index", str(path))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"{path}:2: bad upvotes")
    assert arxiv_ids(database) == {IDS[0]}


def test_nul_is_removed_and_the_record_kept(
    tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    path = tmp_path / "p.jsonl"
    write_rows(path, [paper_line(IDS[0], title="Invented\u0000 Title", comment="10\u0000 pages")])
    result = invoke("ingest", "jsonl", "--no-index", str(path))
    assert result.exit_code == 0, result.output
    with database.read() as s:
        paper = s.execute(sa.select(Paper)).scalar_one()
    assert (paper.title, paper.comment) == ("Invented Title", "10 pages")


def test_array_element_with_bytes_that_are_not_utf8(
    tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    path = tmp_path / "daily.json"
    items = [json.dumps(api_item(i, {"title": f"Invented {i} TITLE"})) for i in IDS]
    text = "[\n" + ",\n".join(items) + "\n]\n"
    path.write_bytes(text.encode().replace(b"2501.00002 TITLE", b"2501.00002 \xff\xfe"))
    result = invoke("ingest", "daily-papers", "--no-index", str(path))
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == (
        f"{path}:3: title: not valid Unicode (a lone surrogate or undecodable bytes)"
    )
    assert arxiv_ids(database) == {IDS[0], IDS[2]}
    with database.read() as s:
        days = set(s.execute(sa.select(DailyEntry.day)).scalars())
    assert {d.isoformat() for d in days} == {"2025-01-11"}


def test_far_future_daily_date_never_becomes_a_day(
    tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    path = tmp_path / "daily.jsonl"
    write_rows(path, [daily_row(IDS[0], {}), daily_row(IDS[1], {"daily_date": "9999-12-31"})])
    assert invoke("ingest", "daily-papers", "--no-index", str(path)).exit_code == 3
    with database.read() as s:
        latest = s.execute(sa.select(sa.func.max(DailyEntry.day))).scalar_one()
    assert latest.isoformat() == "2025-01-11"


def test_records_from_any_source_are_checked_before_a_batch(database: Database) -> None:
    """The Atom client, the remote fetcher and site code hand PaperRecords to the pipeline
    directly: the same bounds apply to them."""
    import datetime as dt

    from paperfeed.sources.pipeline import ingest_records
    from paperfeed.sources.records import DailyInfo, PaperRecord

    def rec(n: int, **fields: Any) -> PaperRecord:
        return PaperRecord(arxiv_id=f"2501.{n:05d}", title=f"Invented {n}", **fields)

    seen: list[str] = []
    stats = ingest_records(
        database,
        [
            rec(1),
            rec(2, github_stars=2**31),
            rec(3, authors=["Ann \udcff Example"]),
            rec(4, comment="nul\x00inside"),
            rec(5, daily=DailyInfo(day=dt.date(9999, 12, 31))),
            rec(6, published_at=dt.datetime(1700, 1, 1)),
            rec(7),
        ],
        on_error=lambda location, reason: seen.append(f"{location}: {reason}"),
    )
    assert (stats.read, stats.inserted, stats.rejected) == (7, 2, 5)
    assert seen == [
        "record 2: github_stars: 2147483648 out of range (0 to 2147483647)",
        "record 3: authors: not valid Unicode (a lone surrogate or undecodable bytes)",
        "record 4: comment: contains a NUL character",
        f"record 5: bad date '9999-12-31' (not between 1991-01-01 and {latest_day()})",
        f"record 6: bad date '1700-01-01 00:00:00' (not between 1991-01-01 and {latest_day()})",
    ]
    assert arxiv_ids(database) == {"2501.00001", "2501.00007"}


@pytest.mark.parametrize("poison", ["[" * 100_000 + "]" * 100_000, '{"n": ' + "9" * 5000 + "}"])
def test_array_that_python_cannot_decode_keeps_what_came_before(poison: str) -> None:
    """Too deep for the decoder, or an int longer than Python converts: the elements before
    it are kept and the file's reader says where it stopped."""
    from paperfeed.sources.readers import iter_daily_papers_array

    good = json.dumps(api_item(IDS[0], {}))
    items = list(iter_daily_papers_array(f"[\n{good},\n{poison}\n]", "f.json"))
    assert items[0].record is not None and items[0].record.arxiv_id == IDS[0]
    assert items[1].location == "f.json:3"
    assert items[1].error is not None and items[1].error.startswith("invalid JSON: ")
    assert items[1].error.endswith("(the rest was not read)")
    assert len(items) == 2
