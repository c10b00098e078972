"""The search page, its feeds, and /api/papers/search: bad input never makes a 500."""

from __future__ import annotations

from collections.abc import Iterator

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.params import text_problem
from paperfeed.search import hybrid
from paperfeed.search.query import clean
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from paperfeed.web.pages.search import _pattern, highlight, snippet
from tests.search.conftest import CODE, HARBOR, LANTERN, OLD, FakeVectors

HOSTILE = [
    '"unbalanced',
    "AND OR NOT ( ) [ ] { } : ^ ~ * ? \\ / + - ! \" ' ` < > =",
    "title:x abstract:(y) id:1 IN [1 2] foo~2 bar^3 *",
    "\x00\x01\x1b[31m\x7f\u202e planners",
    "x" * 10_000,
    "<script>alert(1)</script>",
    "author: cat: year: ::",
    "%00%ff",
]


@pytest.fixture
def client(
    settings: Settings, database: Database, corpus: dict[str, int], no_vectors: None
) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as c:
        yield c


def test_page_keeps_the_query_and_highlights(client: TestClient) -> None:
    r = client.get("/search", params={"q": "recurrent planners"})
    assert r.status_code == 200
    assert 'value="recurrent planners"' in r.text
    assert "<mark>Recurrent</mark> <mark>Planners</mark>" in r.text
    assert f"/papers/{LANTERN}" in r.text and f"/papers/{OLD}" in r.text
    assert 'data-mode="keyword"' in r.text  # the notice says keyword-only
    assert "keyword matches only" in r.text
    assert 'href="/search.xml?q=recurrent+planners"' in r.text
    assert 'rel="alternate" type="application/atom+xml"' in r.text


def test_header_has_a_search_box(client: TestClient) -> None:
    assert 'action="/search"' in client.get("/").text


def test_filters_from_the_form(client: TestClient) -> None:
    r = client.get("/search", params={"q": "lanterns", "code": "1"})
    assert f"/papers/{CODE}" in r.text and f"/papers/{LANTERN}" not in r.text
    r = client.get("/search", params={"q": "planners", "from": "2023", "to": "2023-12"})
    assert f"/papers/{OLD}" in r.text and f"/papers/{LANTERN}" not in r.text
    r = client.get("/search", params={"cat": "math.OC"})
    assert f"/papers/{HARBOR}" in r.text


def test_an_arxiv_id_redirects_to_the_paper(client: TestClient) -> None:
    r = client.get(
        "/search", params={"q": f"https://arxiv.org/abs/{HARBOR}v1"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{HARBOR}"
    r = client.get("/search", params={"q": "2503.99999"})
    assert r.status_code == 200 and "No paper with id 2503.99999" in r.text


def test_did_you_mean(client: TestClient) -> None:
    r = client.get("/search", params={"q": f"cranes {HARBOR}v9"})
    assert "Did you mean the paper with id" in r.text and f'href="/papers/{HARBOR}"' in r.text


def test_pagination(client: TestClient, database: Database) -> None:
    from tests.factories import add_paper

    for i in range(25):
        add_paper(database, f"2505.{i + 1:05d}", title="Pager test entry")
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"search_sync_seconds": 0.0}
    )
    first = client.get("/search", params={"q": "pager"})
    assert first.text.count('class="card"') == 20 and "page=2" in first.text
    second = client.get("/search", params={"q": "pager", "page": "2"})
    assert second.text.count('class="card"') == 5 and 'rel="prev"' in second.text
    assert client.get("/search", params={"q": "pager", "page": "0"}).status_code == 400
    assert client.get("/search", params={"q": "pager", "page": "x"}).status_code == 400


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_never_fail(client: TestClient, text: str) -> None:
    if text_problem(text, 10_000):  # NUL and control characters: a 400 that says so
        for path in ("/search", "/api/papers/search", "/search.xml"):
            refused = client.get(path, params={"q": text})
            assert refused.status_code == 400 and "control character" in refused.text
        text = clean(text)  # the same query without them works
    page = client.get("/search", params={"q": text})
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    api = client.get("/api/papers/search", params={"q": text})
    if len(text) > 500:
        assert api.status_code == 400 and api.json()["error"]
    else:
        assert api.status_code == 200 and isinstance(api.json(), list)
    feed = client.get("/search.xml", params={"q": text})
    assert feed.status_code == 200


@pytest.mark.parametrize("text", ["year:soon", "cat:c$", "date:2024-02-30", "has:nothing"])
def test_malformed_filters_are_400(client: TestClient, text: str) -> None:
    api = client.get("/api/papers/search", params={"q": text})
    assert api.status_code == 400 and "error" in api.json()
    assert client.get("/search", params={"q": text}).status_code == 400
    assert client.get("/search.atom", params={"q": text}).status_code == 400
    assert client.get("/search", params={"q": "x", "cat": "a b"}).status_code == 400


def test_api_keeps_the_list_papers_contract(client: TestClient) -> None:
    r = client.get("/api/papers/search", params={"q": "lattice lanterns", "limit": 1})
    body = r.json()
    assert r.status_code == 200 and isinstance(body, list) and len(body) == 1
    assert r.headers["x-search-mode"] == "keyword"  # no embedder in this test
    assert body[0]["id"] == LANTERN and body[0]["upvotes"] == 7
    assert [p["id"] for p in client.get("/api/papers/search", params={"q": HARBOR}).json()] == [
        HARBOR
    ]
    strict = {"q": "lanterns cranes", "match": "all"}
    assert client.get("/api/papers/search", params=strict).json() == []


def test_the_api_ranks_as_the_page(client: TestClient) -> None:
    """One ranking: the same query gives the same order on /search and the API."""
    for q in ("lanterns cranes", "recurrent planners harbor", "planners"):
        page = client.get("/search", params={"q": q}).text
        api = [p["id"] for p in client.get("/api/papers/search", params={"q": q}).json()]
        shown = [i for i in api if f"/papers/{i}" in page]
        assert api and shown == api
        assert [page.index(f'href="/papers/{i}"') for i in api] == sorted(
            page.index(f'href="/papers/{i}"') for i in api
        )
    any_word = client.get("/api/papers/search", params={"q": "lanterns cranes"}).json()
    assert len(any_word) >= 2  # any word by default; match=all keeps every word


def test_a_malformed_filter_is_shown_on_the_page(client: TestClient) -> None:
    r = client.get("/search", params={"q": "lanterns year:soon"})
    assert r.status_code == 400
    assert 'value="lanterns year:soon"' in r.text
    assert 'role="alert"' in r.text and "year must be YYYY" in r.text
    assert client.get("/api/papers/search", params={"match": "some", "q": "x"}).status_code == 400


def test_api_is_hybrid_when_the_embedder_is_there(
    client: TestClient, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeVectors([corpus[HARBOR]])
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: fake)
    response = client.get("/api/papers/search", params={"q": "lanterns"})
    assert response.headers["x-search-mode"] == "hybrid"
    ids = [p["id"] for p in response.json()]
    assert HARBOR in ids and LANTERN in ids


def test_feeds_of_new_matches(client: TestClient) -> None:
    rss = client.get("/search.xml", params={"q": "planners"})
    assert rss.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(rss.content)
    assert not parsed.bozo
    assert [e.link.rsplit("/", 1)[1] for e in parsed.entries][-1] == OLD  # newest first
    atom = client.get("/search.atom", params={"q": "planners cat:cs.AI"})
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo and len(parsed.entries) == 2
    assert "/search.atom?q=planners+cat%3Acs.AI" in atom.text


def test_highlight_escapes() -> None:
    pattern = _pattern(["planners", "x"])
    assert str(highlight("<b>Planning</b> & planner", pattern)) == (
        "&lt;b&gt;<mark>Planning</mark>&lt;/b&gt; &amp; <mark>planner</mark>"
    )
    long = "word " * 200 + "planners here"
    assert "<mark>planners</mark>" in str(snippet(long, pattern))
