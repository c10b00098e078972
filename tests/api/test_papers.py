"""GET /api/papers/{id}, /api/papers/search, /papers/{id}.md and the OpenAPI schema."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from paperfeed.web.api.schemas import Paper
from tests.api.conftest import Z_TIME, A, B, C, G, ids

PAPERS = TypeAdapter(list[Paper])


def get_paper(client: TestClient, arxiv_id: str) -> dict[str, Any]:
    response = client.get(f"/api/papers/{arxiv_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    Paper.model_validate_json(response.content)
    body: dict[str, Any] = response.json()
    return body


def test_paper(client: TestClient) -> None:
    paper = get_paper(client, A)
    assert paper["id"] == A
    assert paper["title"] == "Lattice Lanterns for Recurrent Planners"
    assert paper["summary"].startswith("We light")
    assert [a["name"] for a in paper["authors"]] == ["Ada Example", "Bo Sample"]
    assert paper["publishedAt"] == "2025-03-01T17:30:00.000Z"
    # The latest time it was put on a daily list, and by whom.
    assert paper["submittedOnDailyAt"] == "2025-03-07T10:00:00.000Z"
    assert paper["submittedOnDailyBy"]["user"] == "alice"
    assert paper["upvotes"] == 10
    assert paper["numComments"] == 3
    assert paper["githubRepo"] == "https://github.com/example/lanterns"
    assert paper["githubStars"] == 42
    assert paper["projectPage"] == "https://example.org/lanterns"
    assert paper["ai_summary"] == "Lanterns help planners."
    assert paper["ai_keywords"] == ["lanterns", "planners"]
    assert paper["organization"]["name"] == "acme"
    for key in ("publishedAt", "submittedOnDailyAt"):
        assert Z_TIME.match(paper[key])


def test_versioned_id_serves_the_paper(client: TestClient) -> None:
    assert get_paper(client, f"{A}v3") == get_paper(client, A)


def test_old_style_ids_with_a_slash(client: TestClient) -> None:
    assert get_paper(client, G)["title"] == "Old Style Strings"
    assert get_paper(client, f"{G}v2")["id"] == G


@pytest.mark.parametrize("arxiv_id", ["2503.99999", "nonsense", "hep-th/0000000", "2503.0000"])
def test_unknown_paper_is_404_json(client: TestClient, arxiv_id: str) -> None:
    response = client.get(f"/api/papers/{arxiv_id}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    # An id-shaped path is the route's own 404 ("paper '2503.99999' not found"); "nonsense"
    # matches no route (the ``arxiv`` convertor): the router's 404, "Not Found".
    assert "not found" in response.json()["error"].lower()


def search(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/papers/search", params=params)
    assert response.status_code == 200, response.text
    PAPERS.validate_json(response.content)
    body: list[dict[str, Any]] = response.json()
    return body


def test_search(client: TestClient) -> None:
    assert ids(search(client, q="lanterns")) == [A]
    assert ids(search(client, q="LATTICE planners", match="all")) == [A]  # every word, any case
    assert ids(search(client, q="quokkas")) == [B]
    assert search(client, q="lanterns quokkas", match="all") == []
    assert set(ids(search(client, q="lanterns quokkas"))) == {A, B}  # any word by default
    # Most upvoted first.
    assert ids(search(client, q="invented paper", limit=2)) == ["2502.00006", "2503.00004"]
    assert search(client, q="lanterns")[0]["numComments"] == 3


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}])
def test_search_without_words_is_an_empty_list(client: TestClient, params: dict[str, str]) -> None:
    assert search(client, **params) == []


@pytest.mark.parametrize("params", [{"q": "x", "limit": 0}, {"q": "x", "limit": "many"}])
def test_search_bad_limit_is_400(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/api/papers/search", params=params)
    assert response.status_code == 400
    assert response.json()["error"]


def test_markdown_page(client: TestClient) -> None:
    response = client.get(f"/papers/{A}.md")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# Lattice Lanterns for Recurrent Planners\n")
    assert "Ada Example, Bo Sample" in text
    assert "**Upvotes:** 10" in text
    assert f"https://arxiv.org/abs/{A}" in text
    assert "https://github.com/example/lanterns" in text
    assert "## Abstract\n\nWe light recurrent planners" in text


def test_markdown_old_style_and_versioned(client: TestClient) -> None:
    assert client.get(f"/papers/{G}.md").text.startswith("# Old Style Strings")
    assert client.get(f"/papers/{C}v2.md").text.startswith("# Thirty Votes")


def test_markdown_unknown_is_404(client: TestClient) -> None:
    assert client.get("/papers/2503.99999.md").status_code == 404


def test_openapi_documents_typed_responses(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    daily = paths["/api/daily_papers"]["get"]
    assert daily["responses"]["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/DailyPaper"
    }
    assert "400" in daily["responses"]
    params = {p["name"] for p in daily["parameters"]}
    assert params == {"p", "limit", "sort", "date", "week", "month", "submitter"}
    assert "/api/papers/search" in paths and "/api/papers/{arxiv_id}" in paths
    assert "/papers/{arxiv_id}.md" in paths
    components = schema["components"]["schemas"]
    assert {"DailyPaper", "Paper", "Author", "UserRef", "ErrorBody"} <= set(components)
    assert "_id" in components["Author"]["properties"]
    assert "title" in components["DailyPaper"]["required"]
