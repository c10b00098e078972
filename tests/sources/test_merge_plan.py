"""The merge plan of one batch (``paperfeed.sources.merge``), on plain rows: no database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from paperfeed.sources.merge import MERGED_FIELDS, new_row, plan_merge
from paperfeed.sources.records import DailyInfo, PaperRecord

DAY = dt.date(2025, 1, 6)


def rec(arxiv_id: str = "2501.00001", **over: Any) -> PaperRecord:
    fields: dict[str, Any] = {"title": "Invented Title", "version": 1, "authors": ["Ann"]}
    fields.update(over)
    return PaperRecord(arxiv_id=arxiv_id, **fields)


def stored(pk: int, record: PaperRecord) -> dict[str, Any]:
    return {"id": pk, **new_row(record)}


def test_new_papers_are_inserted_in_record_order() -> None:
    plan = plan_merge([rec("2501.00002"), rec("2501.00001"), rec("2501.00002")], [])
    assert (plan.inserted, plan.updated, plan.unchanged) == (2, 0, 1)
    assert [r["arxiv_id"] for r in plan.new_papers] == ["2501.00002", "2501.00001"]
    assert set(MERGED_FIELDS) <= set(plan.new_papers[0])
    assert not plan.changed_papers and not plan.new_entries and not plan.changed_entries


def test_unchanged_paper_is_not_written_and_a_newer_version_is() -> None:
    row = stored(7, rec())
    assert plan_merge([rec(title="Older", version=1)], [dict(row)]).changed_papers == []
    plan = plan_merge([rec(title="Newer", version=2)], [row])
    assert (plan.inserted, plan.updated, plan.unchanged) == (0, 1, 0)
    assert [(r["id"], r["title"], r["version"]) for r in plan.changed_papers] == [(7, "Newer", 2)]


def test_daily_entries_new_changed_and_left_alone() -> None:
    row = stored(7, rec())
    mine = {"id": 1, "paper_id": 7, "day": DAY, "submitted_at": None, "submitted_by": "ann"}
    imported = {**mine, "id": 2, "day": DAY + dt.timedelta(days=1)}
    entries = [{**mine, "source": "user"}, {**imported, "source": "import"}]
    records = [
        rec(daily=DailyInfo(day=DAY, submitted_by="bob")),  # a user's entry: kept as is
        rec(daily=DailyInfo(day=DAY + dt.timedelta(days=1), submitted_by="bob")),
        rec("2501.00002", daily=DailyInfo(day=DAY)),
    ]
    plan = plan_merge(records, [row], entries)
    assert (plan.inserted, plan.updated, plan.unchanged) == (1, 1, 1)
    assert plan.changed_entries == [{"id": 2, "submitted_at": None, "submitted_by": "bob"}]
    assert plan.new_entries == [
        (
            "2501.00002",
            {
                "day": DAY,
                "submitted_at": dt.datetime.combine(DAY, dt.time()),
                "submitted_by": None,
                "source": "import",
            },
        )
    ]
    assert [r["id"] for r in plan.changed_papers] == [7]  # its entry changed


def test_community_fields_follow_the_latest_day() -> None:
    row = stored(7, rec(github_repo="https://github.com/new/repo"))
    entries = [
        {
            "id": 1,
            "paper_id": 7,
            "day": DAY,
            "submitted_at": None,
            "submitted_by": None,
            "source": "import",
        }
    ]
    earlier = DailyInfo(day=DAY - dt.timedelta(1))
    older = rec(github_repo="https://github.com/old/repo", daily=earlier)
    plan = plan_merge([older], [row], entries)
    assert row["github_repo"] == "https://github.com/new/repo"
    assert plan.new_entries and plan.changed_papers  # the older day's entry is new
