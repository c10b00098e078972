"""The real third-party sample (read in place from ../shared/data; nothing copied)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from paperfeed.store.db import Database
from paperfeed.store.models import Paper

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SAMPLE = SHARED / "arxiv-daily-cs" / "sample-1000.jsonl"


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"real data not available: {SAMPLE} is absent")
def test_sample_1000_loads_with_no_rejects_and_is_idempotent(
    invoke: Callable[..., Result], database: Database
) -> None:
    # --no-index: the indexes are tested in tests/search; embedding 1,000 papers here would
    # take a minute on 2 cores.
    first = invoke("ingest", "jsonl", "--no-index", str(SAMPLE))
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == (
        "read 1000, inserted 1000, updated 0, unchanged 0, rejected 0"
    )
    again = invoke("ingest", "jsonl", "--no-index", str(SAMPLE))
    assert again.stdout.strip().splitlines()[-1] == (
        "read 1000, inserted 0, updated 0, unchanged 1000, rejected 0"
    )
    with database.read() as s:
        papers = s.execute(sa.select(Paper)).scalars().all()
    assert len(papers) == 1000
    assert all(p.title and p.authors and p.published_at for p in papers)
    assert all(p.primary_category == p.categories[0] for p in papers)
    # MSC/ACM codes (extra_classes) are not arXiv categories
    assert not any(c[:1].isdigit() for p in papers for c in p.categories)


ARXIV_SETS = [SHARED / "arxiv-daily-cs", SHARED / "arxiv-cs-ai-daydayarxiv"]


@pytest.mark.skipif(
    not all(p.exists() for p in ARXIV_SETS), reason=f"real data not available under {SHARED}"
)
def test_both_arxiv_sets_read_with_zero_rejects() -> None:
    """Reader only (no database): every line of both real sets is a valid record."""
    from paperfeed.sources.readers import read_jsonl

    files = sorted(p for d in ARXIV_SETS for p in d.glob("*.jsonl.gz"))
    errors: list[str] = []
    ids: set[str] = set()
    lines = 0
    for item in read_jsonl(files):
        lines += 1
        if item.record is None:
            errors.append(f"{item.location}: {item.error}")
        else:
            ids.add(item.record.arxiv_id)
    assert errors == []
    assert (lines, len(ids)) == (158_157, 140_877)
