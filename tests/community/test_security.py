"""Security properties: CSRF, ownership, tokens, secrets at rest, headers, caching."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, page_csrf


def make_token(client: TestClient, scope: str = "write") -> str:
    r = client.post(
        "/account/tokens", data={"name": "t", "scope": scope, "csrf_token": page_csrf(client)}
    )
    assert r.status_code == 200
    return r.text.split('<code id="new-token">')[1].split("<")[0]


def test_csrf_missing_or_wrong_is_403(user_client: Any) -> None:
    client = user_client("alice")
    assert client.post("/papers/2503.00001/upvote", data={"action": "add"}).status_code == 403
    r = client.post("/papers/2503.00001/upvote", data={"action": "add", "csrf_token": "x" * 64})
    assert r.status_code == 403
    r = client.post("/api/papers/2503.00001/upvote")  # cookie but no header: refused
    assert r.status_code == 403
    r = client.post("/api/papers/2503.00001/upvote", headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403
    good = page_csrf(client)
    r = client.post("/api/papers/2503.00001/upvote", headers={"X-CSRF-Token": good})
    assert r.status_code == 200 and r.json() == {"upvotes": 11, "voted": True}


def test_csrf_on_anonymous_forms(app_client: TestClient) -> None:
    r = app_client.post("/login", data={"login": "x", "password": "y" * 8})
    assert r.status_code == 403
    assert app_client.post("/signup", data={"username": "abc"}).status_code == 403


def test_token_of_another_browser_is_refused(user_client: Any) -> None:
    a = user_client("alice")
    b = user_client("bob")
    r = b.post("/papers/2503.00001/upvote", data={"action": "add", "csrf_token": page_csrf(a)})
    assert r.status_code == 403


def test_cross_site_origin_refused(user_client: Any) -> None:
    client = user_client("alice")
    r = client.post(
        "/papers/2503.00001/upvote",
        data={"action": "add", "csrf_token": page_csrf(client)},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_b_cannot_touch_a_objects(user_client: Any) -> None:
    a, b = user_client("alice"), user_client("bob")
    ta, tb = make_token(a), make_token(b)
    ha, hb = {"Authorization": f"Bearer {ta}"}, {"Authorization": f"Bearer {tb}"}
    c = a.post("/api/papers/2503.00001/comments", json={"body": "mine"}, headers=ha).json()
    assert b.patch(f"/api/comments/{c['id']}", json={"body": "x"}, headers=hb).status_code == 403
    assert b.delete(f"/api/comments/{c['id']}", headers=hb).status_code == 403
    pub = a.post("/api/collections", json={"name": "Pub"}, headers=ha).json()
    priv = a.post("/api/collections", json={"name": "Priv", "public": False}, headers=ha).json()
    assert (
        b.patch(f"/api/collections/{pub['id']}", json={"name": "x"}, headers=hb).status_code == 403
    )
    assert b.delete(f"/api/collections/{pub['id']}", headers=hb).status_code == 403
    r = b.post(f"/api/collections/{pub['id']}/papers", json={"paperId": "2503.00001"}, headers=hb)
    assert r.status_code == 403
    assert b.get(f"/api/collections/{priv['id']}", headers=hb).status_code == 404
    assert b.delete(f"/api/collections/{priv['id']}", headers=hb).status_code == 404
    # Pages too.
    r = b.post(f"/comments/{c['id']}/edit", data={"body": "x", "csrf_token": page_csrf(b)})
    assert r.status_code == 403
    r = b.post(f"/collections/{pub['id']}/delete", data={"csrf_token": page_csrf(b)})
    assert r.status_code == 403
    assert b.get(f"/collections/{priv['id']}").status_code == 404
    # Still there, unchanged.
    assert a.get("/api/papers/2503.00001/comments").json()[0]["body"] == "mine"
    assert a.get(f"/api/collections/{priv['id']}", headers=ha).json()["name"] == "Priv"


def test_tokens_scopes_and_revocation(user_client: Any) -> None:
    client = user_client("alice")
    read, write = make_token(client, "read"), make_token(client, "write")
    bare = TestClient(client.app)
    r = bare.post("/api/papers/2503.00001/upvote", headers={"Authorization": f"Bearer {read}"})
    assert r.status_code == 403
    r = bare.post("/api/papers/2503.00001/upvote", headers={"Authorization": f"Bearer {write}"})
    assert r.status_code == 200
    assert (
        bare.get("/api/me", headers={"Authorization": f"Bearer {read}"}).json()["user"] == "alice"
    )
    page = client.get("/account").text
    token_id = page.split('action="/account/tokens/')[1].split("/")[0]
    r = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": page_csrf(client)})
    assert r.status_code == 200
    for tok in (write, read):
        if client.get("/api/me", headers={"Authorization": f"Bearer {tok}"}).status_code == 401:
            revoked = tok
    r = bare.post("/api/papers/2503.00001/upvote", headers={"Authorization": f"Bearer {revoked}"})
    assert r.status_code == 401
    assert bare.post("/api/papers/2503.00001/upvote").status_code == 401
    assert bare.get("/api/daily_papers").status_code == 200  # reads stay public


def test_no_plaintext_password_or_token_in_the_database(
    user_client: Any, site_db: Database
) -> None:
    client = user_client("alice")
    token = make_token(client)
    session_id = client.cookies.get("pf_session")
    assert session_id
    with site_db.read() as s:
        tables = [
            "users", "user_sessions", "api_tokens", "comments", "collections", "site_meta",
            "rate_limit_counters", "upvotes", "authorship_claims",
        ]  # fmt: skip
        dump = ""
        for table in tables:
            for row in s.execute(text(f"SELECT * FROM {table}")):
                dump += repr(tuple(row))
    for secret in (PASSWORD, token, token[3:], session_id):
        assert secret not in dump


def test_security_headers_everywhere(app_client: TestClient) -> None:
    for path in ("/", "/papers/2503.00001", "/login", "/api/daily_papers", "/nope"):
        r = app_client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"


def test_logged_in_pages_are_not_shared_through_the_cache(
    community_settings: Settings, site_db: Database, make_user: Any
) -> None:
    from tests.community.conftest import login

    cached = community_settings.model_copy(update={"cache_seconds": 60.0})
    app = create_app(cached, site_db)
    make_user("alice")
    user = login(TestClient(app), "alice")
    assert "whoami" in user.get("/papers/date/2025-03-07").text
    anon = TestClient(app)
    page = anon.get("/papers/date/2025-03-07").text
    assert "whoami" not in page and "csrf_token" not in page
    assert "whoami" in user.get("/papers/date/2025-03-07").text


POST_FORM_RE = re.compile(r'<form\b[^>]*method="post"[^>]*>(.*?)</form>', re.S | re.I)
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]*)"')


def test_every_post_form_carries_the_token(user_client: Any) -> None:
    """Each POST form of each logged-in page has the session's CSRF token, not an empty one.
    (A Jinja macro imported without ``with context`` once rendered ``value=""`` in the comment,
    reply, collection and account forms: browsers got 403, while a helper that took the first
    non-empty token on the page, the header's log-out form, never noticed.)"""
    client = user_client("alice", admin=True)
    client.post("/papers/2503.00001/comments", data={"csrf_token": page_csrf(client), "body": "hi"})
    client.post("/collections", data={"csrf_token": page_csrf(client), "name": "mine"})
    expected = page_csrf(client)
    pages = ["/", "/papers/2503.00001", "/account", "/submit", "/admin", "/u/alice"]
    pages += ["/collections/1", "/comments/1/edit"]
    for path in pages:
        r = client.get(path)
        assert r.status_code == 200, path
        forms = POST_FORM_RE.findall(r.text)
        assert forms, path
        for form in forms:
            assert TOKEN_RE.findall(form) == [expected], (path, form[:200])
