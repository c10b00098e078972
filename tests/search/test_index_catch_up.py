"""Indexes left behind (an interrupted ingest, a restored database): a re-run ingest that
changes nothing still catches them up, and searches meanwhile say "indexing"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.keyword import get_keyword_index
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.search.test_index_cli import invoke, write_papers


def test_a_rerun_ingest_that_changes_nothing_catches_the_index_up(
    settings: Settings, database: Database, tmp_path: Path, no_vectors: None
) -> None:
    papers = write_papers(tmp_path / "a.jsonl", 3)
    # The first run committed its papers but never reached the index update.
    assert invoke("ingest", "jsonl", "--no-index", str(papers)).exit_code == 0
    assert get_keyword_index(settings).num_docs() == 0

    again = invoke("ingest", "jsonl", str(papers))
    assert again.exit_code == 0, again.output
    assert again.output.strip().splitlines()[-1].startswith("read 3, inserted 0, updated 0")
    assert "index keyword: indexed 3" in again.output
    assert get_keyword_index(settings).num_docs() == 3


def test_an_ingest_with_the_index_up_to_date_leaves_it_alone(
    settings: Settings, database: Database, tmp_path: Path, no_vectors: None
) -> None:
    papers = write_papers(tmp_path / "a.jsonl", 3)
    assert "index keyword" in invoke("ingest", "jsonl", str(papers)).output
    assert "index keyword" not in invoke("ingest", "jsonl", str(papers)).output


@pytest.fixture
def client(
    settings: Settings, database: Database, corpus: dict[str, int], no_vectors: None
) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as c:
        yield c


def test_searches_say_indexing_while_the_index_is_far_behind(
    client: TestClient,
    settings: Settings,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The corpus's 5 papers are "far behind" when at most 2 are caught up inline.
    monkeypatch.setattr(hybrid, "INLINE_SYNC_MAX", 2)
    hybrid._last_check.clear()
    # Held: the background catch-up cannot start yet (deterministically still behind).
    with hybrid._sync_lock:
        page = client.get("/search", params={"q": "lanterns"})
        assert page.status_code == 200 and hybrid.INDEXING in page.text
        api = client.get("/api/papers/search", params={"q": "lanterns"})
        assert api.status_code == 200 and api.json() == []
        assert api.headers["X-Search-Indexing"] == "1"
        assert api.headers["X-Search-Mode"] == "keyword"
    index = get_keyword_index(settings)
    hybrid._sync(index, database)  # what the background thread does
    page = client.get("/search", params={"q": "lanterns"})
    assert hybrid.INDEXING not in page.text and "Lanterns" in page.text
    api = client.get("/api/papers/search", params={"q": "lanterns robot", "match": "all"})
    assert len(api.json()) == 1 and "X-Search-Indexing" not in api.headers
