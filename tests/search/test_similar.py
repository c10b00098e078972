"""Similar papers on the API (``/api/papers/{id}/similar``) and on the paper page, with the
real model on the invented topic corpus. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.search.embedder import Embedder
from paperfeed.search.vectors import get_vector_search
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.factories import add_paper
from tests.search.vector_corpus import embedder, partner, seed_topics

__all__ = ["embedder"]

OLD_STYLE = "cond-mat/0101001"


@pytest.fixture
def site(settings: Settings, database: Database, embedder: Embedder) -> dict[str, int]:
    ids = seed_topics(database)
    ids[OLD_STYLE] = add_paper(
        database,
        OLD_STYLE,
        title="Walking Machines with Four Legs",
        abstract="A robot dog learns to trot over rocks with trial-and-error training.",
    )
    vectors = get_vector_search(settings)
    assert vectors is not None
    vectors.update(database)
    return ids


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database)) as c:
        yield c


def test_similar_api_returns_paper_objects_nearest_first(
    client: TestClient, site: dict[str, int]
) -> None:
    r = client.get("/api/papers/2504.20003/similar")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    papers = r.json()
    ids = [p["id"] for p in papers]
    assert "2504.20003" not in ids
    assert ids[0] == partner("2504.20003")
    assert len(ids) == len(set(ids)) == len(site) - 1  # 9 papers, itself excluded
    single = client.get("/api/papers/2504.20003").json()
    assert set(papers[0]) == set(single)  # the same paper object as /api/papers/{id}

    assert [p["id"] for p in client.get("/api/papers/2504.20003/similar?limit=2").json()] == ids[:2]
    # a versioned id serves the paper
    assert client.get("/api/papers/2504.20003v2/similar?limit=2").json()[0]["id"] == ids[0]


def test_similar_api_old_style_ids_and_errors(client: TestClient, site: dict[str, int]) -> None:
    r = client.get(f"/api/papers/{OLD_STYLE}/similar?limit=3")
    assert r.status_code == 200
    assert {p["id"] for p in r.json()[:2]} == {"2504.20007", "2504.20008"}
    assert client.get(f"/api/papers/{OLD_STYLE}").json()["id"] == OLD_STYLE

    missing = client.get("/api/papers/2599.99999/similar")
    assert missing.status_code == 404 and "error" in missing.json()
    for bad in ("0", "51", "x"):
        r = client.get(f"/api/papers/2504.20003/similar?limit={bad}")
        assert r.status_code == 400 and "error" in r.json()


def test_paper_not_yet_embedded_still_gets_neighbours(
    client: TestClient, site: dict[str, int], database: Database
) -> None:
    add_paper(
        database,
        "2504.20011",
        title="Drafting Tokens to Speed Up Chatbots",
        abstract="Language model generation gets faster when a small model guesses ahead.",
    )
    papers = client.get("/api/papers/2504.20011/similar?limit=2").json()
    assert {p["id"] for p in papers} == {"2504.20001", "2504.20002"}


def test_paper_page_lists_similar_papers(client: TestClient, site: dict[str, int]) -> None:
    r = client.get("/papers/2504.20005")
    assert r.status_code == 200
    html = r.text
    assert "Similar papers" in html
    section = html[html.index("Similar papers") :]
    first_link = section.index('href="/papers/')
    assert section[first_link:].startswith(f'href="/papers/{partner("2504.20005")}"')
    assert 'href="/papers/2504.20005"' not in section[: section.index("</section>")]


def test_similar_is_empty_when_semantic_search_is_off(
    settings: Settings, database: Database, site: dict[str, int]
) -> None:
    off = settings.model_copy(update={"embedding_backend": "off"})
    with TestClient(create_app(off, database)) as c:
        assert c.get("/api/papers/2504.20003/similar").json() == []
        page = c.get("/papers/2504.20003")
        assert page.status_code == 200 and "Similar papers" not in page.text
