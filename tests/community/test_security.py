"""Security properties: CSRF, ownership, tokens, secrets at rest, headers, caching."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, csrf_of, page_csrf


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


# --- cookies: one parser, fail closed -------------------------------------------------------


def _session_of(client: TestClient) -> str:
    sid = client.cookies.get("pf_session")
    assert sid
    return sid


def test_a_malformed_cookie_does_not_hide_the_session_from_csrf(user_client: Any) -> None:
    """``t=a b`` once stopped the middleware's parser (SimpleCookie) before ``pf_session``,
    while the route's parser found it: a cross-site vote with ``Origin: null`` and no CSRF
    token counted."""
    alice = user_client("alice")
    header = f"t=a b; pf_session={_session_of(alice)}"
    bare = TestClient(alice.app)
    assert bare.get("/api/me", headers={"Cookie": header}).json()["user"] == "alice"
    for origin in ({"Origin": "null"}, {}):
        r = bare.post("/api/papers/2503.00001/upvote", headers={"Cookie": header, **origin})
        assert r.status_code == 403
        r = bare.post(
            "/papers/2503.00001/upvote", data={"action": "add"}, headers={"Cookie": header}
        )
        assert r.status_code == 403
    assert bare.get("/api/papers/2503.00001").json()["upvotes"] == 10


def test_origin_null_is_refused_even_with_a_good_csrf_token(user_client: Any) -> None:
    alice = user_client("alice")
    good = page_csrf(alice)
    r = alice.post(
        "/api/papers/2503.00001/upvote", headers={"X-CSRF-Token": good, "Origin": "null"}
    )
    assert r.status_code == 403 and "Origin: null" in r.json()["error"]
    r = alice.post("/api/papers/2503.00001/upvote", headers={"X-CSRF-Token": good})
    assert r.status_code == 200
    # Without this site's cookies there is nothing to forge: the API answers 401.
    bare = TestClient(alice.app)
    assert bare.post("/api/submissions", headers={"Origin": "null"}).status_code == 401


def test_a_harmless_cookie_does_not_break_forms(user_client: Any) -> None:
    """``consent={"analytics":true}`` (set by some other script on the host) made every form
    a 403: the old parser gave up on it and saw no session."""
    alice = user_client("alice")
    header = f'consent={{"analytics":true}}; pf_session={_session_of(alice)}'
    bare = TestClient(alice.app)
    r = bare.post(
        "/papers/2503.00001/upvote",
        data={"action": "add", "csrf_token": page_csrf(alice)},
        headers={"Cookie": header},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert bare.get("/api/papers/2503.00001").json()["upvotes"] == 11


def test_an_unreadable_cookie_header_is_refused(user_client: Any) -> None:
    alice = user_client("alice")
    sid = _session_of(alice)
    bare = TestClient(alice.app)
    bad = [
        f"pf_session={sid}\x01",  # a control character
        f"pf_session={sid}; pf_session=planted",  # two sessions: which one counts?
        f"pf_csrf=a; pf_csrf=b; pf_session={sid}",
    ]
    for header in bad:
        r = bare.get("/api/me", headers={"Cookie": header})
        assert r.status_code == 400 and "cookies" in r.json()["error"], header
        r = bare.get("/account", headers={"Cookie": header})
        assert r.status_code == 400 and "Clear this site" in r.text
        r = bare.post("/api/papers/2503.00001/upvote", headers={"Cookie": header})
        assert r.status_code == 400
    # The same cookie twice with the same value is not ambiguous.
    r = bare.get("/api/me", headers={"Cookie": f"pf_session={sid}; pf_session={sid}"})
    assert r.status_code == 200 and r.json()["user"] == "alice"


# --- what ends sessions offers to revoke tokens ---------------------------------------------


def _live(client: TestClient, token: str) -> bool:
    r = TestClient(client.app).get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 401)
    return r.status_code == 200


def test_the_forms_that_end_sessions_offer_to_revoke_tokens(user_client: Any) -> None:
    page = user_client("alice").get("/account").text
    box = '<input type="checkbox" name="revoke_tokens" value="1" checked>'
    forms = [f for f in POST_FORM_RE.findall(page) if box in f]
    assert len(forms) == 2 and any('name="current"' in f for f in forms)


def test_password_change_revokes_tokens_when_asked(user_client: Any) -> None:
    client = user_client("alice")
    kept = make_token(client, "read")
    new = "another long passphrase"
    form = {"current": PASSWORD, "new": new, "csrf_token": page_csrf(client)}
    assert client.post("/account/password", data=form).status_code == 200
    assert _live(client, kept)  # the box unticked: tokens stay
    form = {"current": new, "new": PASSWORD, "revoke_tokens": "1"}
    r = client.post("/account/password", data=form | {"csrf_token": page_csrf(client)})
    assert r.status_code == 200
    assert not _live(client, kept)


def test_logout_everywhere_revokes_tokens_when_asked(user_client: Any) -> None:
    client = user_client("alice")
    kept = make_token(client, "write")
    client.post("/account/logout-everywhere", data={"csrf_token": page_csrf(client)})
    assert _live(client, kept)
    from tests.community.conftest import login

    login(client, "alice")
    gone = make_token(client, "write")
    data = {"csrf_token": page_csrf(client), "revoke_tokens": "1"}
    r = client.post("/account/logout-everywhere", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not _live(client, kept) and not _live(client, gone)


def test_password_reset_revokes_tokens_when_asked(user_client: Any, site_db: Database) -> None:
    from paperfeed.community import users

    client = user_client("alice")
    token = make_token(client, "write")
    account = users.get_account_by_email(site_db, "alice@example.org")
    assert account is not None
    link = f"/reset/{users.reset_token(site_db, client.app.state.settings, account)}"
    anon = TestClient(client.app)
    page = anon.get(link).text
    assert 'name="revoke_tokens" value="1" checked' in page
    data = {"password": "a new long passphrase", "revoke_tokens": "1", "csrf_token": csrf_of(page)}
    r = anon.post(link, data=data)
    assert r.status_code == 200 and "1 API token revoked." in r.text
    assert not _live(client, token)
