"""Demo data: generated when no remote source answers, labelled, loaded once."""

from __future__ import annotations

import collections
import datetime as dt
import re
import socket

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed.cli import cli
from paperfeed.config import Settings, get_settings
from paperfeed.search.indexing import semantic_index
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.similar import similar_items
from paperfeed.sources.demo import is_demo, load_demo, paper_count
from paperfeed.sources.demo_corpus import generate_listings
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry
from paperfeed.web.app import create_app


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the with-block ends


def test_generated_corpus_is_realistic_and_deterministic() -> None:
    today = dt.date(2026, 11, 27)  # a Friday
    items = generate_listings(today)
    assert items == generate_listings(today)
    days = {i["paper"]["submittedOnDailyAt"][:10] for i in items}
    assert all(dt.date.fromisoformat(d).weekday() < 5 for d in days)  # no weekend lists
    assert max(days) == "2026-11-27"
    assert len(days) >= 14
    ids = [i["paper"]["id"] for i in items]
    assert len(ids) == len(set(ids))
    assert all(90000 <= int(i.split(".")[1]) <= 99999 for i in ids)
    upvotes = sorted(i["paper"]["upvotes"] for i in items)
    assert upvotes[0] == 0 and upvotes[-1] > 20  # a long tail, like real lists


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text.strip())


def test_generated_abstracts_are_varied() -> None:
    """Abstracts do not repeat the same template sentences: with each paper's own method
    name and every number masked, hardly any sentence comes back, and no one is common."""
    items = generate_listings(dt.date(2026, 11, 27))
    masked: collections.Counter[str] = collections.Counter()
    lengths = []
    for item in items:
        paper = item["paper"]
        name = paper["title"].split(":")[0] if ":" in paper["title"] else ""
        sentences = _sentences(paper["summary"])
        lengths.append(len(sentences))
        for sentence in sentences:
            if name and " " not in name:
                sentence = sentence.replace(name, "NAME")
            masked[re.sub(r"\d+(\.\d+)?", "N", sentence)] += 1
    total = sum(masked.values())
    assert len(masked) >= 0.8 * total, (len(masked), total)
    most, count = masked.most_common(1)[0]
    assert count <= 0.02 * total, (most, count)
    assert min(lengths) <= 4 and max(lengths) >= 9  # short and long abstracts
    titles = [i["paper"]["title"] for i in items]
    assert len(set(titles)) == len(titles)
    categories = {i["paper"]["categories"][0] for i in items}
    assert len(categories) >= 15
    authors = [len(i["paper"]["authors"]) for i in items]
    assert min(authors) == 1 and max(authors) >= 30  # a lone author, a large collaboration


def test_demo_falls_back_to_generated_and_is_labelled(
    database: Database, settings: Settings, monkeypatch: object
) -> None:
    port = _closed_port()
    offline = settings.model_copy(
        update={
            "daily_papers_api_url": f"http://127.0.0.1:{port}/api/daily_papers",
            "arxiv_api_url": f"http://127.0.0.1:{port}/api/query",
            "arxiv_request_interval": 0.0,
            "demo_fetch_timeout": 2.0,
        }
    )
    messages: list[str] = []
    result = load_demo(database, offline, echo=messages.append, today=dt.date(2026, 11, 27))
    assert "generated" in result
    assert len(messages) == 2 and all("not reachable" in m for m in messages)
    assert is_demo(database)
    count = paper_count(database)
    assert count > 150
    with database.read() as s:
        assert s.scalar(select(func.count(func.distinct(DailyEntry.day)))) >= 14  # type: ignore[operator]

    again = load_demo(database, offline, if_empty=True, try_remote=False)
    assert "already holds" in again
    assert paper_count(database) == count

    client = TestClient(create_app(settings, database))
    page = client.get("/")
    assert page.status_code == 200
    assert "demo" in page.text.lower()


@pytest.mark.slow  # embeds a few hundred papers: seconds alone, a minute on a busy machine
def test_demo_command_reset(database: Database, settings: Settings) -> None:
    load_demo(database, settings, try_remote=False, today=dt.date(2026, 11, 27))
    first = paper_count(database)
    runner = CliRunner(
        env={
            "PAPERFEED_DAILY_PAPERS_API_URL": f"http://127.0.0.1:{_closed_port()}/x",
            "PAPERFEED_ARXIV_API_URL": f"http://127.0.0.1:{_closed_port()}/x",
            "PAPERFEED_ARXIV_REQUEST_INTERVAL": "0",
            "PAPERFEED_DEMO_FETCH_TIMEOUT": "2",
        }
    )
    get_settings.cache_clear()
    result = runner.invoke(cli, ["demo", "--reset"])
    assert result.exit_code == 0, result.output
    assert "generated papers loaded" in result.output
    count = paper_count(database)
    assert count > 150
    assert count != first or first > 0
    # Both search indexes hold every paper: semantic search and similar papers work at once.
    settings = get_settings()
    keyword = get_keyword_index(settings).status(database)
    assert keyword["documents"] == count and keyword["pending"] == 0
    vectors = semantic_index(settings)
    assert vectors is not None
    semantic = vectors.status(database)
    assert semantic["embedded"] == count and semantic["pending"] == 0
    assert semantic["index_size"] == count
    some = generate_listings(dt.date(2026, 11, 27))[0]["paper"]["id"]
    similar = similar_items(database, settings, some, 5)
    assert similar, "no similar papers"

    # A site loaded before demos were indexed catches up at the next `make run`.
    assert "already holds" in runner.invoke(cli, ["demo", "--if-empty"]).output
