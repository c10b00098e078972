"""``paperfeed index update|rebuild|status`` and the index update after an ingest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.query import parse_query
from paperfeed.store.db import Database


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def write_papers(path: Path, n: int) -> Path:
    rows = [
        {
            "id": f"2503.{20001 + i}",
            "title": f"Invented okapi survey number {i}",
            "abstract": "An okapi is written about here for the index tests.",
            "authors": ["Ada Example"],
            "categories": ["cs.IR"],
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class BrokenVectors:
    def update(self, db: Database, progress: bool = False) -> dict[str, int]:
        raise RuntimeError("model files are missing")

    def status(self, db: Database) -> dict[str, object]:
        return {"papers": 0}


def test_ingest_updates_the_keyword_index_unless_told_not_to(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hybrid, "vector_search", lambda s: None)
    first = invoke("ingest", "jsonl", "--no-index", str(write_papers(tmp_path / "a.jsonl", 3)))
    assert first.exit_code == 0 and "index keyword" not in first.output
    index = get_keyword_index(settings)
    assert index.num_docs() == 0
    second = invoke("ingest", "jsonl", str(write_papers(tmp_path / "b.jsonl", 5)))
    assert second.exit_code == 0, second.output
    lines = second.output.strip().splitlines()
    assert lines[-1].startswith("read 5, inserted 2, updated 0")  # the summary stays last
    assert any(line.startswith("index keyword: indexed 5") for line in lines)
    assert "index semantic: skipped embedder unavailable" in second.output
    assert len(index.search(parse_query("okapi"), 10).hits) == 5


def test_index_commands(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hybrid, "vector_search", lambda s: None)
    invoke("ingest", "jsonl", "--no-index", str(write_papers(tmp_path / "a.jsonl", 4)))
    status = invoke("index", "status")
    assert "papers 4, documents 0, pending 4" in status.output
    assert "embedder unavailable" in status.output
    assert "indexed 4" in invoke("index", "update", "--keyword-only").output
    assert "indexed 0" in invoke("index", "update").output
    rebuilt = invoke("index", "rebuild")
    assert "index keyword: indexed 4, deleted 0, documents 4" in rebuilt.output
    assert "pending 0" in invoke("index", "status").output


def test_a_failing_semantic_update_is_reported_and_keyword_goes_on(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken: Any = BrokenVectors()
    monkeypatch.setattr(hybrid, "vector_search", lambda s: broken)
    invoke("ingest", "jsonl", "--no-index", str(write_papers(tmp_path / "a.jsonl", 2)))
    result = invoke("index", "update")
    assert result.exit_code == 1
    assert "index keyword: indexed 2" in result.output
    assert "index semantic: failed RuntimeError: model files are missing" in result.output
