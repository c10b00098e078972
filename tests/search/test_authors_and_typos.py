"""Author names in a query, name variants, typos: the keyword side's help for half-remembered
papers (issue 16), and what the search page shows of the matched author (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.search import keyword_query
from paperfeed.search.authors import matched_authors, name_variants, name_words
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.query import parse_query
from paperfeed.store.db import Database
from paperfeed.text import fold
from paperfeed.web.app import create_app
from tests.factories import add_paper

NAMED = "2504.20001"
MENTIONS = "2504.20002"
TYPO = "2504.20003"


@pytest.fixture
def papers(database: Database) -> dict[str, int]:
    ids = {}
    ids[NAMED] = add_paper(
        database,
        NAMED,
        title="Sparse Kettles for Streaming",
        abstract="We stream kettles through sparse buffers.",
        authors=["Una First", "Zoë Mørk-Hansen", "Kai He", "Rui Tail"],
    )
    # Has both words of the name, not as a name, and in the title (weighted higher).
    ids[MENTIONS] = add_paper(
        database,
        MENTIONS,
        title="He Kai Kettles: Streaming Sparse Kettles",
        abstract="Kettles that stream; kai and he are words here.",
        authors=["Lee Other"],
    )
    ids[TYPO] = add_paper(
        database,
        TYPO,
        title="Thermodynamic Teapots",
        abstract="Teapots obey thermodynamics in small kitchens.",
        authors=["Ann Brewer"],
    )
    return ids


def test_name_variants_and_folding() -> None:
    assert fold("Zoë Mørk-Hansen") == "Zoe Mork-Hansen"
    assert name_words("Zoë Mørk-Hansen") == ["zoe", "mork", "hansen"]
    assert name_variants("Kai He") == [["kai", "he"], ["k", "he"], ["he", "kai"]]
    assert ["z", "hansen"] in name_variants("Zoë Mørk-Hansen")
    authors = ["Una First", "Kai He", "Rui Tail"]
    assert matched_authors(["papers", "by", "kai", "he", "on", "kettles"], authors) == ["Kai He"]
    assert matched_authors(["k", "he"], authors) == ["Kai He"]
    assert matched_authors(["he"], authors) == []  # one word is not a name
    assert matched_authors(["first", "kai"], authors) == []  # never across two names


def ranked(settings: Settings, database: Database, ids: dict[str, int], text: str) -> list[str]:
    index = get_keyword_index(settings)
    index.update(database)
    by_pid = {v: k for k, v in ids.items()}
    return [by_pid[p] for p, _ in index.search(parse_query(text), 10, conjunctive=False).hits]


def test_a_named_author_ranks_first(
    settings: Settings, database: Database, papers: dict[str, int]
) -> None:
    # "he" is a stop word, yet "Kai He" as typed is the author's name: that paper first.
    assert ranked(settings, database, papers, "Kai He kettles")[0] == NAMED
    assert ranked(settings, database, papers, "k. he sparse kettles")[0] == NAMED
    assert ranked(settings, database, papers, "zoe mork-hansen")[0] == NAMED
    # Without the name, the title's words win.
    assert ranked(settings, database, papers, "kai kettles streaming")[0] == MENTIONS


def test_a_typo_still_finds_the_paper(
    settings: Settings, database: Database, papers: dict[str, int]
) -> None:
    assert ranked(settings, database, papers, "thermodinamic teapots")[0] == TYPO
    assert ranked(settings, database, papers, "thermodinamic")[:1] == [TYPO]


@pytest.mark.parametrize("listed_at_most", [1000, 1, 0])
def test_named_ids_the_same_whether_listed_or_asked_among_the_ids(
    settings: Settings,
    database: Database,
    papers: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    listed_at_most: int,
) -> None:
    """The papers of an author the query names: listed outright when few have such an
    author, else asked among the candidates (0: always; 1: when two papers have one)."""
    monkeypatch.setattr(keyword_query, "NAMED_ALONE_MAX", listed_at_most)
    index = get_keyword_index(settings)
    index.update(database)
    every = list(papers.values())
    named = papers[NAMED]
    assert index.named_ids(parse_query("Kai He kettles"), every) == {named}
    assert index.named_ids(parse_query("k he"), every) == {named}
    assert index.named_ids(parse_query("he kai kettles"), every) == {named}
    assert index.named_ids(parse_query("Kai He kettles"), [papers[MENTIONS]]) == set()
    both = parse_query("kai he lee other")
    assert index.named_ids(both, every) == {named, papers[MENTIONS]}
    assert index.named_ids(both, [papers[MENTIONS], papers[TYPO]]) == {papers[MENTIONS]}
    assert index.named_ids(parse_query("kettles teapots"), every) == set()
    assert index.named_ids(parse_query("Kai He"), []) == set()


@pytest.fixture
def client(
    settings: Settings, database: Database, papers: dict[str, int], no_vectors: None
) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as c:
        yield c


def test_the_page_shows_the_matched_author_and_links_to_them(client: TestClient) -> None:
    page = client.get("/search", params={"q": "Rui Tail kettles"}).text
    # The 4th author is named by the query: shown on the card though past the first ones.
    # (the card's author list is the shared one: each name links to its page)
    linked = '<a class="author" href="/authors/Rui%20Tail">Rui Tail</a></mark>'
    assert f'<mark class="matched-author">{linked}' in page or f"<mark>{linked}" in page
    assert 'href="/authors/Rui%20Tail"' in page and "Papers by Rui Tail" in page
    assert "paper matches all the words" in page or "papers match all the words" in page
    none = client.get("/search", params={"q": "kettles teapots"}).text
    assert "No paper has all the words" in none
