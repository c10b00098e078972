"""Until the metadata fill has asked arXiv, papers from Hugging Face listings have no
categories: a ``cat:`` search that finds nothing says their categories are not yet known
(not "no papers match"), and their pages and cards show no empty category chip."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.factories import add_entry

DAY = dt.date(2026, 11, 20)


@pytest.fixture
def client(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: None)
    add_entry(
        database, "2611.00051", DAY, title="Listed Lanterns", categories=[], primary_category=None
    )
    add_entry(
        database, "2611.00052", DAY, title="Listed Harbors", categories=[], primary_category=None
    )
    add_entry(
        database,
        "2611.00053",
        DAY,
        title="Known Lighthouses",
        categories=["cs.RO"],
        primary_category="cs.RO",
    )
    with TestClient(create_app(settings, database)) as c:
        yield c


def test_a_category_search_says_categories_are_unknown(client: TestClient) -> None:
    r = client.get("/search", params={"q": "cat:cs.CL"})
    assert r.status_code == 200
    assert "Categories are not yet known for 2 papers." in r.text
    assert "No papers match" not in r.text
    r = client.get("/search", params={"q": "lanterns", "cat": "cs.CL"})
    assert "Categories are not yet known for 2 papers." in r.text


def test_a_category_search_that_finds_papers_or_a_word_search_says_nothing_of_it(
    client: TestClient,
) -> None:
    r = client.get("/search", params={"q": "cat:cs.RO"})
    assert "/papers/2611.00053" in r.text and "not yet known" not in r.text
    r = client.get("/search", params={"q": "nothingmatchesthis"})
    assert "No papers match." in r.text and "not yet known" not in r.text


def test_pages_and_cards_show_no_empty_category_chip(client: TestClient) -> None:
    page = client.get("/papers/2611.00051").text
    assert "not yet known" in page
    assert not re.search(r'<span class="chip[^"]*">\s*</span>', page)
    day = client.get(f"/papers/date/{DAY.isoformat()}").text
    assert "Listed Lanterns" in day
    assert not re.search(r'<span class="chip[^"]*">\s*</span>', day)
    assert '<span class="chip chip-primary">cs.RO</span>' in day
