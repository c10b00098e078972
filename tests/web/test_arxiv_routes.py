"""arXiv ids in paths: one convertor (``{arxiv_id:arxiv}``, ``web/convertors.py``) for the
pages and the API, so every path with an id is matched by one route alone, whatever the
order the routers were included in, and old-style ids (with their slash) and versions reach
their routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app


def walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.16x nests routers
        if inner is not None:
            yield from walk(inner.routes)
        else:
            yield route


@pytest.fixture
def api(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database)) as client:
        yield client


@pytest.fixture
def routes(api: TestClient) -> list[BaseRoute]:
    return list(walk(api.app.routes))  # type: ignore[attr-defined]


def matching(routes: list[BaseRoute], method: str, path: str) -> list[tuple[str, dict[str, Any]]]:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    found = []
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            found.append((getattr(route, "path", "?"), child.get("path_params", {})))
    return found


COMMENTS = "/api/papers/{arxiv_id:arxiv}/comments"


@pytest.mark.parametrize(
    ("method", "path", "template", "arxiv_id"),
    [
        ("GET", "/api/papers/2503.00001", "/api/papers/{arxiv_id:arxiv}", "2503.00001"),
        ("GET", "/api/papers/hep-th/9901001v2", "/api/papers/{arxiv_id:arxiv}", "hep-th/9901001v2"),
        ("GET", "/api/papers/2503.00001/similar", "/api/papers/{arxiv_id:arxiv}/similar", None),
        ("GET", "/api/papers/hep-th/9901001/similar", "/api/papers/{arxiv_id:arxiv}/similar", None),
        ("GET", "/api/papers/math.GT/0309136/comments", COMMENTS, "math.GT/0309136"),
        ("POST", "/api/papers/hep-th/9901001/upvote", "/api/papers/{arxiv_id:arxiv}/upvote", None),
        ("GET", "/api/papers/search", "/api/papers/search", None),
        ("GET", "/papers/2503.00001.md", "/papers/{arxiv_id:arxiv}.md", "2503.00001"),
        ("GET", "/papers/hep-th/9901001v1.md", "/papers/{arxiv_id:arxiv}.md", "hep-th/9901001v1"),
        ("GET", "/papers/2503.00001", "/papers/{arxiv_id:arxiv}", "2503.00001"),
        ("GET", "/papers/hep-th/9901001", "/papers/{arxiv_id:arxiv}", "hep-th/9901001"),
        ("GET", "/papers/trending", "/papers/trending", None),
        ("POST", "/papers/hep-th/9901001/claim", "/papers/{arxiv_id:arxiv}/claim", None),
        (
            "DELETE",
            "/api/collections/3/papers/hep-th/9901001",
            "/api/collections/{collection_id}/papers/{arxiv_id:arxiv}",
            "hep-th/9901001",
        ),
    ],
)
def test_one_route_takes_each_path(
    routes: list[BaseRoute], method: str, path: str, template: str, arxiv_id: str | None
) -> None:
    found = matching(routes, method, path)
    assert [t for t, _ in found] == [template]
    if arxiv_id is not None:
        assert found[0][1]["arxiv_id"] == arxiv_id
    # Whatever the order: the same one route, and only it, in reverse.
    assert matching(list(reversed(routes)), method, path) == list(reversed(found))


@pytest.mark.parametrize(
    "path", ["/api/papers/nonsense", "/api/papers/a/b/c", "/papers/nonsense.md", "/papers/x"]
)
def test_a_path_without_an_id_shape_matches_no_paper_route(
    routes: list[BaseRoute], path: str
) -> None:
    assert matching(routes, "GET", path) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/papers/nonsense"),
        ("GET", "/api/papers/2503.0000/similar"),
        ("GET", "/api/papers/a/b/c"),
        ("POST", "/api/papers/nonsense/upvote"),
        ("GET", "/api/papers/nonsense/comments"),
    ],
)
def test_odd_ids_in_the_api_are_json_404s(api: TestClient, method: str, path: str) -> None:
    r = api.request(method, path)
    assert r.status_code == 404
    assert "not found" in r.json()["error"].lower()
