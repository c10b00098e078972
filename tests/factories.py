"""Test data written by hand: papers and daily entries put straight into the store.

Titles and abstracts here are invented for the tests; none comes from the real data sets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper


def add_paper(db: Database, arxiv_id: str, **fields: Any) -> int:
    defaults: dict[str, Any] = {
        "title": f"Invented paper {arxiv_id}",
        "abstract": f"An abstract written for the tests about paper {arxiv_id}.",
        "authors": ["Ada Example", "Bo Sample", "Cy Fixture", "Di Placeholder"],
        "categories": ["cs.LG", "cs.AI"],
        "primary_category": "cs.LG",
        "published_at": dt.datetime(2025, 3, 3, 12, 0, 0),
        "updated_at": dt.datetime(2025, 3, 3, 12, 0, 0),
        "version": 1,
    }
    defaults.update(fields)
    with db.write() as s:
        paper = Paper(arxiv_id=arxiv_id, **defaults)
        s.add(paper)
        s.flush()
        return paper.id


def add_entry(
    db: Database,
    arxiv_id: str,
    day: dt.date,
    *,
    upvotes: int = 0,
    submitted_at: dt.datetime | None = None,
    submitted_by: str | None = None,
    **paper_fields: Any,
) -> None:
    """A paper featured on ``day`` with ``upvotes`` imported votes (paper created if new)."""
    with db.read() as s:
        paper = s.query(Paper).filter_by(arxiv_id=arxiv_id).one_or_none()
        paper_id = paper.id if paper else None
    if paper_id is None:
        paper_id = add_paper(db, arxiv_id, imported_upvotes=upvotes, **paper_fields)
    with db.write() as s:
        s.add(
            DailyEntry(
                paper_id=paper_id,
                day=day,
                submitted_at=submitted_at or dt.datetime.combine(day, dt.time(8, 0)),
                submitted_by=submitted_by,
                source="import",
            )
        )
