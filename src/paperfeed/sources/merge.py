"""The merge plan of one ingest batch: given the rows the store holds for the batch's papers
(and their daily entries) and the incoming records, what to insert and what to update.

Pure: no database here (``sources/batch_store.py`` reads the rows and writes the plan), so
the merge rules are testable on plain dicts. The rules are in ``sources/pipeline.py``'s
docstring; :func:`merge_paper` applies them to one row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from paperfeed.sources.records import DailyInfo, PaperRecord

VERSION_FIELDS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "primary_category",
    "published_at",
    "updated_at",
    "comment",
    "journal_ref",
    "doi",
    "license",
    "submitter",
)
COMMUNITY_FIELDS = (
    "github_repo",
    "github_stars",
    "project_page",
    "ai_summary",
    "ai_keywords",
    "media_urls",
    "organization",
)
# The paper columns an ingest writes (besides ``arxiv_id`` and the timestamps).
MERGED_FIELDS = (
    *VERSION_FIELDS,
    "version",
    *COMMUNITY_FIELDS,
    "imported_upvotes",
    "imported_comments",
)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _is_newer(record: PaperRecord, row: dict[str, Any]) -> bool:
    if record.version is None:
        return False
    current = row["version"]
    if current is None or record.version > current:
        return True
    if record.version < current:
        return False
    return record.updated_at is not None and (
        row["updated_at"] is None or record.updated_at > row["updated_at"]
    )


def merge_paper(row: dict[str, Any], record: PaperRecord, community_newest: bool = True) -> bool:
    """Merge ``record`` into ``row`` in place; True when ``row`` changed."""
    newer = _is_newer(record, row)
    changed = _take_fields(row, record, VERSION_FIELDS, newer)
    if newer and row["version"] != record.version:
        row["version"] = record.version
        changed = True
    changed |= _take_fields(row, record, COMMUNITY_FIELDS, community_newest)
    if record.upvotes is not None and record.upvotes > (row["imported_upvotes"] or 0):
        row["imported_upvotes"] = record.upvotes
        changed = True
    if record.num_comments is not None and record.num_comments > (row["imported_comments"] or 0):
        row["imported_comments"] = record.num_comments
        changed = True
    return changed


def fill_paper(row: dict[str, Any], record: PaperRecord) -> bool:
    """Fill ``row``'s empty version-specific fields (and its unknown version) from ``record``,
    never changing one it has: the metadata fill's rule (``sources/metadata_fill.py``), for
    a listing that lacked what arXiv knows. True when ``row`` changed."""
    changed = _take_fields(row, record, VERSION_FIELDS, overwrite=False)
    if row["version"] is None and record.version is not None:
        row["version"] = record.version
        changed = True
    return changed


def _take_fields(
    row: dict[str, Any], record: PaperRecord, names: Iterable[str], overwrite: bool
) -> bool:
    """Copy each non-empty field of ``record`` into ``row`` where ``row``'s is empty, or
    wherever it differs when ``overwrite``; True when ``row`` changed."""
    changed = False
    for name in names:
        new = getattr(record, name)
        if _empty(new):
            continue
        old = row[name]
        if (overwrite or _empty(old)) and old != new:
            row[name] = new
            changed = True
    return changed


def new_row(record: PaperRecord) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(record, name) for name in VERSION_FIELDS}
    row["arxiv_id"] = record.arxiv_id
    row["version"] = record.version
    for name in COMMUNITY_FIELDS:
        value = getattr(record, name)
        row[name] = None if _empty(value) else value
    row["imported_upvotes"] = record.upvotes or 0
    row["imported_comments"] = record.num_comments or 0
    return row


@dataclass
class _PaperState:
    row: dict[str, Any]
    is_new: bool
    dirty: bool = False
    max_day: dt.date | None = None


@dataclass
class _EntryState:
    row: dict[str, Any]
    is_new: bool
    dirty: bool = False


@dataclass
class MergePlan:
    """What one batch changes. Paper rows carry ``arxiv_id`` and ``MERGED_FIELDS`` (changed
    ones also ``id``); new entries are ``(arxiv_id, row)`` (the paper's id may not exist
    yet); changed entries are ``{"id", "submitted_at", "submitted_by"}``. Lists are in the
    order the rows were met: existing rows first, as read, then new ones in record order."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    new_papers: list[dict[str, Any]] = field(default_factory=list)
    changed_papers: list[dict[str, Any]] = field(default_factory=list)
    new_entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changed_entries: list[dict[str, Any]] = field(default_factory=list)


class _Merge:
    """The batch's rows by arxiv id (and by (arxiv id, day) for entries) while records merge."""

    def __init__(self, papers: Iterable[dict[str, Any]], entries: Iterable[dict[str, Any]]):
        self.papers: dict[str, _PaperState] = {}
        by_pk: dict[int, str] = {}
        for row in papers:
            self.papers[row["arxiv_id"]] = _PaperState(row=row, is_new=False)
            by_pk[row["id"]] = row["arxiv_id"]
        self.entries: dict[tuple[str, dt.date], _EntryState] = {}
        for erow in entries:
            arxiv_id = by_pk[erow["paper_id"]]
            self.entries[(arxiv_id, erow["day"])] = _EntryState(row=erow, is_new=False)
            state = self.papers[arxiv_id]
            if state.max_day is None or erow["day"] > state.max_day:
                state.max_day = erow["day"]
        self.plan = MergePlan()

    def add(self, record: PaperRecord) -> None:
        found = self.papers.get(record.arxiv_id)
        daily = record.daily
        if found is None:
            state = self.papers[record.arxiv_id] = _PaperState(new_row(record), True, True)
            paper_changed = True
        else:
            state = found
            newest = daily is None or state.max_day is None or daily.day >= state.max_day
            paper_changed = merge_paper(state.row, record, community_newest=newest)
        entry_changed = False
        if daily is not None:
            entry_changed = self._add_entry(record.arxiv_id, daily)
            if state.max_day is None or daily.day > state.max_day:
                state.max_day = daily.day
        if found is None:
            self.plan.inserted += 1
        elif paper_changed or entry_changed:
            state.dirty = True
            self.plan.updated += 1
        else:
            self.plan.unchanged += 1

    def _add_entry(self, arxiv_id: str, daily: DailyInfo) -> bool:
        """Merge a record's daily-list entry; True when it is new or changed."""
        key = (arxiv_id, daily.day)
        entry = self.entries.get(key)
        if entry is None:
            submitted_at = daily.submitted_at or dt.datetime.combine(daily.day, dt.time())
            row = {
                "day": daily.day,
                "submitted_at": submitted_at,
                "submitted_by": daily.submitted_by,
                "source": daily.source,
            }
            self.entries[key] = _EntryState(row=row, is_new=True, dirty=True)
            return True
        if entry.row["source"] != "import":  # a user's or the demo's entry is theirs
            return False
        changed = False
        erow = entry.row
        if daily.submitted_at is not None and erow["submitted_at"] != daily.submitted_at:
            erow["submitted_at"] = daily.submitted_at
            changed = True
        if daily.submitted_by and erow["submitted_by"] != daily.submitted_by:
            erow["submitted_by"] = daily.submitted_by
            changed = True
        entry.dirty = entry.dirty or changed
        return changed

    def finish(self) -> MergePlan:
        plan = self.plan
        for state in self.papers.values():
            if state.dirty:
                (plan.new_papers if state.is_new else plan.changed_papers).append(state.row)
        for (arxiv_id, _day), entry in self.entries.items():
            if not entry.dirty:
                continue
            if entry.is_new:
                plan.new_entries.append((arxiv_id, entry.row))
            else:
                row = entry.row
                plan.changed_entries.append(
                    {k: row[k] for k in ("id", "submitted_at", "submitted_by")}
                )
        return plan


def plan_merge(
    records: Iterable[PaperRecord],
    papers: Iterable[dict[str, Any]],
    entries: Iterable[dict[str, Any]] = (),
) -> MergePlan:
    """The plan for merging ``records`` (in order: a paper seen twice merges twice) into the
    stored ``papers`` (rows with ``id``, ``arxiv_id`` and ``MERGED_FIELDS``, JSON decoded) and
    their daily ``entries`` (rows with ``id``, ``paper_id``, ``day``, ``submitted_at``,
    ``submitted_by``, ``source``). The paper rows are merged in place."""
    merge = _Merge(papers, entries)
    for record in records:
        merge.add(record)
    return merge.finish()
