"""Anonymous hits of cached pages answered before routing (``web/cached_pages.py``): the
same answer as the page's own, and only for requests the page would answer from the cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.responses import Response
from fastapi.testclient import TestClient

import paperfeed.web.pages as pages
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from paperfeed.web.pages.render import cached_page
from tests.web.conftest import FRIDAY

DAY = f"/papers/date/{FRIDAY}"


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths whose requests reached a page route (``cached_page``)."""
    calls: list[str] = []

    async def counting(request: Any, compute: Callable[[], bytes]) -> Response:
        calls.append(request.url.path)
        return await cached_page(request, compute)

    monkeypatch.setattr(pages, "cached_page", counting)
    return calls


@pytest.fixture
def cached_client(settings: Settings, site: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"cache_seconds": 60.0}), site)) as c:
        yield c


def test_a_hit_is_the_pages_own_answer(cached_client: TestClient, routed: list[str]) -> None:
    first = cached_client.get(DAY)
    second = cached_client.get(DAY)
    assert routed == [DAY]  # the second never reached the route
    assert first.status_code == second.status_code == 200
    assert first.content == second.content and "Gradient Gardens" in second.text
    assert sorted(first.headers.items()) == sorted(second.headers.items())
    assert "default-src 'self'" in second.headers["content-security-policy"]


def test_query_strings_are_their_own_pages(cached_client: TestClient, routed: list[str]) -> None:
    cached_client.get(DAY)
    other = cached_client.get(DAY + "?page=1")
    assert other.status_code == 200 and routed == [DAY, DAY]
    cached_client.get(DAY + "?page=1")
    assert len(routed) == 2


def test_requests_with_credentials_go_to_the_app(
    cached_client: TestClient, routed: list[str]
) -> None:
    cached_client.get(DAY)
    # Any session cookie, even one that names no session: the page decides.
    cached_client.cookies.set("pf_session", "nothing")
    assert cached_client.get(DAY).status_code == 200
    assert len(routed) == 2
    cached_client.cookies.clear()
    # A bad API token is refused by the app, not answered from the cache.
    refused = cached_client.get(DAY, headers={"Authorization": "Bearer pf_wrong"})
    assert refused.status_code == 401 and len(routed) == 3
    assert cached_client.head(DAY).status_code == 200  # HEAD is the app's
    assert len(routed) == 4
    cached_client.get(DAY)
    assert len(routed) == 4


def test_nothing_is_answered_with_the_cache_off(client: TestClient, routed: list[str]) -> None:
    client.get(DAY)
    client.get(DAY)
    assert routed == [DAY, DAY]
