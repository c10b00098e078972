"""``paperfeed ingest ...`` end to end through click, on invented files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from click.testing import Result

from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper

from .conftest import paper_line, write_lines

Invoke = Callable[..., Result]


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def arxiv_ids(db: Database) -> set[str]:
    with db.read() as s:
        return set(s.execute(sa.select(Paper.arxiv_id)).scalars())


def test_jsonl_bad_records_reported_and_good_ones_committed(
    tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            paper_line("2501.00001"),
            '{"id": "2501.00002", "title": "broken',
            {k: v for k, v in paper_line("2501.00003").items() if k != "id"},
            paper_line("2501.00004", title="  "),
            paper_line("2501.00005", published="yesterday-ish"),
            paper_line("2501.1234"),
            paper_line("2501.00007"),
        ],
    )
    result = invoke("ingest", "jsonl", str(path))
    assert result.exit_code == 3, result.output
    assert last_line(result) == "read 7, inserted 2, updated 0, unchanged 0, rejected 5"
    errors = result.stderr.strip().splitlines()
    assert errors[0].startswith(f"{path}:2: invalid JSON")
    assert errors[1] == f"{path}:3: missing id"
    assert errors[2] == f"{path}:4: missing title"
    assert errors[3].startswith(f"{path}:5: bad date")
    assert errors[4].startswith(f"{path}:6: arXiv ids from 1501 have a 5-digit number")
    assert arxiv_ids(database) == {"2501.00001", "2501.00007"}


def test_strict_stops_at_first_bad_record(
    tmp_path: Path, invoke: Invoke, database: Database
) -> None:
    path = write_lines(
        tmp_path / "s.jsonl",
        [paper_line("2501.00001"), "not json", paper_line("2501.00003")],
    )
    result = invoke("ingest", "jsonl", "--strict", str(path))
    assert result.exit_code == 3
    assert last_line(result) == "read 2, inserted 1, updated 0, unchanged 0, rejected 1"
    assert arxiv_ids(database) == {"2501.00001"}


def test_gz_idempotent_and_versions(tmp_path: Path, invoke: Invoke, database: Database) -> None:
    rows = [paper_line(f"2502.{i:05d}") for i in range(1, 6)]
    gz = write_lines(tmp_path / "papers.jsonl.gz", rows, gz=True)
    first = invoke("ingest", "jsonl", str(gz))
    assert first.exit_code == 0, first.output
    assert last_line(first) == "read 5, inserted 5, updated 0, unchanged 0, rejected 0"
    assert first.stderr == ""
    again = invoke("ingest", "jsonl", str(gz))
    assert last_line(again) == "read 5, inserted 0, updated 0, unchanged 5, rejected 0"
    newer = write_lines(
        tmp_path / "v2.jsonl",
        [paper_line("2502.00001", version="v2", title="Revised Invented Title")],
    )
    assert last_line(invoke("ingest", "jsonl", str(newer))).startswith(
        "read 1, inserted 0, updated 1"
    )
    older = invoke("ingest", "jsonl", str(gz))
    assert last_line(older) == "read 5, inserted 0, updated 0, unchanged 5, rejected 0"
    with database.read() as s:
        p = s.execute(sa.select(Paper).where(Paper.arxiv_id == "2502.00001")).scalar_one()
    assert (p.title, p.version) == ("Revised Invented Title", 2)


def test_arxiv_snapshot_command(tmp_path: Path, invoke: Invoke, database: Database) -> None:
    from .test_ingest_readers import SNAPSHOT

    path = write_lines(
        tmp_path / "snap.json",
        [SNAPSHOT, {**SNAPSHOT, "id": "math/0501001"}, {**SNAPSHOT, "id": "math/0501001x"}],
    )
    result = invoke("ingest", "arxiv-snapshot", str(path))
    assert result.exit_code == 3
    assert last_line(result) == "read 3, inserted 2, updated 0, unchanged 0, rejected 1"
    assert result.stderr.startswith(f"{path}:3: malformed arXiv id")
    assert arxiv_ids(database) == {"hep-th/9901001", "math/0501001"}


def test_daily_papers_command(tmp_path: Path, invoke: Invoke, database: Database) -> None:
    rows = [
        {
            "arxiv_id": "2503.00001",
            "daily_date": "2025-03-10",
            "title": "Invented Daily One",
            "abstract": "Invented.",
            "authors": ["Ann Example"],
            "published_at": "2025-03-07T10:00:00.000Z",
            "submitted_on_daily_at": "2025-03-10T02:00:00.000Z",
            "upvotes": 12,
            "num_comments": 2,
        },
        {
            "arxiv_id": "2503.00001",
            "daily_date": "2025-03-11",
            "title": "Invented Daily One",
            "authors": ["Ann Example"],
            "upvotes": 3,
        },
        {"arxiv_id": "2503.00002", "title": "No day here", "authors": []},
    ]
    path = write_lines(tmp_path / "daily.jsonl", rows)
    result = invoke("ingest", "daily-papers", str(path))
    assert result.exit_code == 3
    assert last_line(result) == "read 3, inserted 1, updated 1, unchanged 0, rejected 1"
    assert result.stderr.strip() == f"{path}:3: missing daily_date"
    again = invoke("ingest", "daily-papers", str(path))
    assert last_line(again) == "read 3, inserted 0, updated 0, unchanged 2, rejected 1"
    with database.read() as s:
        p = s.execute(sa.select(Paper)).scalar_one()
        entries = s.execute(sa.select(DailyEntry).order_by(DailyEntry.day)).scalars().all()
    assert p.imported_upvotes == 12 and p.imported_comments == 2
    assert [(e.day.isoformat(), e.source, e.submitted_by) for e in entries] == [
        ("2025-03-10", "import", None),
        ("2025-03-11", "import", None),
    ]


def test_usage_errors(invoke: Invoke) -> None:
    assert invoke("ingest", "daily-papers").exit_code == 2
    assert invoke("ingest", "arxiv").exit_code == 2
    bad = invoke("ingest", "arxiv", "--id", "https://evil.example/abs/2401.01234")
    assert bad.exit_code == 2 and "only arxiv.org" in bad.output
