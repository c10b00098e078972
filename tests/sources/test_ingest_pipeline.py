"""Merge rules, counting and idempotency of the ingest pipeline (SQLite or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from paperfeed.sources.pipeline import ingest_records
from paperfeed.sources.records import DailyInfo, PaperRecord, ReadItem
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper


def rec(arxiv_id: str = "2501.00001", **over: Any) -> PaperRecord:
    fields: dict[str, Any] = {
        "title": "Invented Title",
        "abstract": "Invented abstract.",
        "authors": ["Ann Example"],
        "categories": ["cs.LG"],
        "primary_category": "cs.LG",
        "published_at": dt.datetime(2025, 1, 2, 3, 4, 5),
        "updated_at": dt.datetime(2025, 1, 2, 3, 4, 5),
        "version": 1,
    }
    fields.update(over)
    return PaperRecord(arxiv_id=arxiv_id, **fields)


def row(db: Database, arxiv_id: str = "2501.00001") -> Paper:
    with db.read() as s:
        return s.execute(sa.select(Paper).where(Paper.arxiv_id == arxiv_id)).scalar_one()


def counts(stats: Any) -> tuple[int, int, int, int, int]:
    return (stats.read, stats.inserted, stats.updated, stats.unchanged, stats.rejected)


def test_insert_then_unchanged(database: Database) -> None:
    records = [rec(), rec("2501.00002")]
    assert counts(ingest_records(database, records)) == (2, 2, 0, 0, 0)
    first = row(database)
    assert counts(ingest_records(database, [rec(), rec("2501.00002")])) == (2, 0, 0, 2, 0)
    again = row(database)
    assert again.modified_at == first.modified_at
    assert again.authors == ["Ann Example"] and again.version == 1


def test_newer_version_updates_older_never_overwrites(database: Database) -> None:
    ingest_records(database, [rec(version=2, title="Second Version", comment="v2 comment")])
    before = row(database)
    stats = ingest_records(database, [rec(version=1, title="First Version", comment="v1")])
    assert counts(stats) == (1, 0, 0, 1, 0)
    p = row(database)
    assert (p.title, p.version, p.comment) == ("Second Version", 2, "v2 comment")
    assert p.modified_at == before.modified_at
    stats = ingest_records(
        database,
        [rec(version=3, title="Third Version", updated_at=dt.datetime(2025, 3, 1), comment=None)],
    )
    assert counts(stats) == (1, 0, 1, 0, 0)
    p = row(database)
    assert (p.title, p.version, p.updated_at) == ("Third Version", 3, dt.datetime(2025, 3, 1))
    assert p.comment == "v2 comment"  # never nulled by a source that lacks it
    assert p.modified_at > before.modified_at


def test_same_version_later_update_time_wins(database: Database) -> None:
    ingest_records(database, [rec(journal_ref=None)])
    later = dt.datetime(2025, 6, 1)
    ingest_records(database, [rec(updated_at=later, journal_ref="Invented J. 2")])
    assert row(database).journal_ref == "Invented J. 2"


def test_unknown_version_only_fills_empty_fields(database: Database) -> None:
    ingest_records(database, [rec(version=2, comment=None, doi=None, abstract="")])
    stats = ingest_records(
        database,
        [rec(version=None, title="Other Title", comment="filled", abstract="Filled abstract.")],
    )
    assert counts(stats) == (1, 0, 1, 0, 0)
    p = row(database)
    assert (p.title, p.version) == ("Invented Title", 2)
    assert (p.comment, p.abstract) == ("filled", "Filled abstract.")


def test_unknown_then_known_version(database: Database) -> None:
    ingest_records(database, [rec(version=None, published_at=dt.datetime(2025, 1, 3))])
    ingest_records(
        database, [rec(version=1, title="Known", published_at=dt.datetime(2025, 1, 2, 9))]
    )
    p = row(database)
    assert (p.title, p.version, p.published_at) == ("Known", 1, dt.datetime(2025, 1, 2, 9))


def test_same_paper_twice_in_one_batch(database: Database) -> None:
    stats = ingest_records(database, [rec(version=1), rec(version=2, title="V2"), rec(version=1)])
    assert counts(stats) == (3, 1, 1, 1, 0)
    assert row(database).title == "V2"


def daily(day: dt.date, **over: Any) -> PaperRecord:
    fields: dict[str, Any] = {"version": None, "upvotes": 5, "num_comments": 1}
    fields.update(over)
    return rec(
        daily=DailyInfo(day=day, submitted_at=dt.datetime.combine(day, dt.time(8))), **fields
    )


def test_community_fields_and_entries(database: Database) -> None:
    d1, d2 = dt.date(2025, 1, 5), dt.date(2025, 1, 9)
    with database.write() as s:
        s.add(Paper(arxiv_id="2501.00001", title="Existing", version=1, user_upvotes=7))
    stats = ingest_records(
        database,
        [
            daily(d1, upvotes=10, github_stars=1, organization="Lab A"),
            daily(
                d2,
                upvotes=4,
                github_stars=9,
                organization=None,
                github_repo="https://github.com/x/y",
            ),
        ],
    )
    assert counts(stats) == (2, 0, 2, 0, 0)
    p = row(database)
    assert (p.imported_upvotes, p.imported_comments, p.user_upvotes) == (10, 1, 7)
    assert (p.github_stars, p.organization, p.github_repo) == (9, "Lab A", "https://github.com/x/y")
    assert p.title == "Existing"  # daily listings carry no version: no overwrite
    with database.read() as s:
        days = s.execute(sa.select(DailyEntry.day).order_by(DailyEntry.day)).scalars().all()
    assert days == [d1, d2]
    # the same file again: nothing changes, although the older day has other values
    stats = ingest_records(
        database,
        [
            daily(d1, upvotes=10, github_stars=1, organization="Lab A"),
            daily(
                d2,
                upvotes=4,
                github_stars=9,
                organization=None,
                github_repo="https://github.com/x/y",
            ),
        ],
    )
    assert counts(stats) == (2, 0, 0, 2, 0)
    assert row(database).github_stars == 9
    # a new entry for a known paper is an update
    stats = ingest_records(database, [daily(dt.date(2025, 1, 12), upvotes=1)])
    assert counts(stats) == (1, 0, 1, 0, 0)


def test_errors_are_reported_and_strict_stops(database: Database) -> None:
    seen: list[str] = []
    items = [
        ReadItem("f", 1, record=rec("2501.00001")),
        ReadItem("f", 2, error="missing title"),
        ReadItem("f", 3, record=rec("2501.00003")),
    ]
    stats = ingest_records(database, items, on_error=lambda loc, why: seen.append(f"{loc}: {why}"))
    assert counts(stats) == (3, 2, 0, 0, 1) and seen == ["f:2: missing title"]
    items[0] = ReadItem("f", 1, record=rec("2501.00004"))
    stats = ingest_records(database, items, strict=True)
    assert counts(stats) == (2, 1, 0, 0, 1)
    with database.read() as s:
        ids = set(s.execute(sa.select(Paper.arxiv_id)).scalars())
    assert ids == {"2501.00001", "2501.00003", "2501.00004"}


def test_batches(database: Database) -> None:
    records = [rec(f"2501.{i:05d}") for i in range(1, 26)]
    stats = ingest_records(database, [*records, rec("2501.00001", version=2)], batch_size=7)
    assert counts(stats) == (26, 25, 1, 0, 0)
