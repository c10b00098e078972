"""Bearer-token votes are answered in front of FastAPI (``web/api/bearer_votes.py``); they
must answer exactly as the FastAPI route does for a logged-in browser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

import paperfeed.web.api.community as community_api
from tests.community.conftest import page_csrf
from tests.community.test_security import make_token

if TYPE_CHECKING:
    from httpx2 import Response  # what starlette's TestClient answers with


SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


def _shape(r: Response) -> tuple[int, Any, str, tuple[str | None, ...]]:
    return (
        r.status_code,
        r.json(),
        r.headers["content-type"],
        tuple(r.headers.get(h) for h in SECURITY_HEADERS),
    )


def test_bearer_votes_answer_like_the_route(user_client: Any) -> None:
    browser = user_client("alice")
    script = TestClient(browser.app)
    token = make_token(browser, "write")
    as_script = {"Authorization": f"Bearer {token}"}
    as_browser = {"X-CSRF-Token": page_csrf(browser)}
    base = browser.get("/api/papers/2503.00002").json()["upvotes"]

    # The same user (the token is alice's) through the fast path (script) and through the
    # route (browser): each answer reflects the other's vote.
    r = script.post("/api/papers/2503.00002/upvote", headers=as_script)
    assert r.status_code == 200 and r.json() == {"upvotes": base + 1, "voted": True}
    r2 = browser.post("/api/papers/2503.00002/upvote", headers=as_browser)
    assert _shape(r) == _shape(r2) and all(_shape(r)[3])  # idempotent, same headers
    r = script.delete("/api/papers/2503.00002/upvote", headers=as_script)
    assert r.json() == {"upvotes": base, "voted": False}
    r2 = browser.delete("/api/papers/2503.00002/upvote", headers=as_browser)
    assert _shape(r) == _shape(r2)
    r2 = browser.post("/api/papers/2503.00002/upvote", headers=as_browser)
    r = script.post("/api/papers/2503.00002/upvote", headers=as_script)
    assert _shape(r) == _shape(r2) and r.json()["upvotes"] == base + 1

    for path in ("/api/papers/2503.99999/upvote", "/api/papers/hep-th/9912999/upvote"):
        r = script.post(path, headers=as_script)
        r2 = browser.post(path, headers=as_browser)
        assert _shape(r) == _shape(r2)
        assert r.status_code == 404 and "No paper" in r.json()["error"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer pf_not_a_token", "Bearer ", "bearer pf_x", "Basic YWxpY2U6cHc="],
)
def test_bad_credentials_answer_like_the_route(user_client: Any, authorization: str) -> None:
    client = TestClient(user_client("bob").app)
    r = client.post("/api/papers/2503.00001/upvote", headers={"Authorization": authorization})
    assert r.status_code == 401
    assert r.json() == {"error": "invalid or revoked API token"}
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-security-policy"]


def test_read_token_is_refused(user_client: Any) -> None:
    browser = user_client("carol")
    read = make_token(browser, "read")
    r = TestClient(browser.app).delete(
        "/api/papers/2503.00001/upvote", headers={"Authorization": f"Bearer {read}"}
    )
    assert r.status_code == 403 and r.json() == {"error": "this API token is read-only"}


def test_bearer_votes_do_not_go_through_the_route(
    user_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = user_client("dave")
    token = make_token(browser, "write")
    csrf = page_csrf(browser)

    async def broken(*args: Any) -> Any:
        raise RuntimeError("the FastAPI vote route was called")

    monkeypatch.setattr(community_api, "_vote", broken)
    script = TestClient(browser.app)
    r = script.post("/api/papers/2503.00001/upvote", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["voted"] is True
    # A browser's vote still takes the route (and now fails there).
    failing = TestClient(browser.app, raise_server_exceptions=False, cookies=browser.cookies)
    r = failing.post("/api/papers/2503.00001/upvote", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 500
