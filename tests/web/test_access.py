"""The access table (web/access.py) against the app: every registered route × method, called
with no credentials, a read token, a write token, a user's browser session and an admin's,
gets the outcome the table says. A route missing from the table fails here (and is refused
at run time)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paperfeed.community import collections, comments, sessions, tokens, users
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.access import ACCESS, ADMIN, LOGIN, NOT_LISTED, PUBLIC, SESSION, WRITE, Need
from paperfeed.web.app import create_app
from tests.community.conftest import (  # noqa: F401 (fixtures)
    PASSWORD,
    community_settings,
    csrf_of,
    make_user,
    site_db,
)

if TYPE_CHECKING:
    from httpx2 import Response  # what starlette's TestClient answers with


SAFE = {"GET", "HEAD"}
SAMPLES = {
    "arxiv_id": "2503.00001",
    "day": "2025-03-07",
    "week": "2025-W10",
    "month": "2025-03",
    "username": "alice",
    "path": "style.css",
    "claim_id": "1",
    "attempt_id": "1",
    "token": "not-a-signed-token",
    "mode": "compact",
    "name": "00000000000000000001-0123456789ab.eml",  # an outbox message (none there: 404)
}


def registered(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, as ``access.enforce`` keys
    them (FastAPI adds HEAD to some GET routes; a mount serves GET and HEAD)."""
    try:
        from fastapi.routing import iter_route_contexts

        found = [(rc.path_format, rc.original_route) for rc in iter_route_contexts(app.routes)]
    except ImportError:  # FastAPI before included routers were kept as such
        found = [(getattr(r, "path_format", None), r) for r in app.routes]
    out = []
    for path, route in found:
        assert path is not None, route
        for method in sorted(getattr(route, "methods", None) or {"GET", "HEAD"}):
            out.append((method, path))
    return out


def test_every_route_is_in_the_table_and_every_entry_is_a_route(
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
) -> None:
    routes = registered(create_app(community_settings, site_db))
    keys = {("GET" if m == "HEAD" else m, p) for m, p in routes}
    assert sorted(keys - set(ACCESS)) == [], "add these routes to web/access.py ACCESS"
    assert sorted(set(ACCESS) - keys) == [], "these ACCESS entries name no route"
    for (method, _path), need in ACCESS.items():
        assert need is not LOGIN or method == "GET"  # LOGIN is for reads
        assert need is not WRITE or method not in SAFE


# --- the walk -------------------------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    db: Database
    settings: Settings
    alice: users.Account
    admin: users.Account
    read: str
    write: str
    samples: dict[str, str]


@pytest.fixture
def world(
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
    make_user: Callable[..., users.Account],  # noqa: F811
) -> Iterator[World]:
    # Verified addresses: an unverified one is refused (403) by /subscribe's own rule.
    alice, admin = make_user("alice", verified=True), make_user("carol", admin=True, verified=True)
    read, _ = tokens.create_token(site_db, alice, "r", "read")
    write, _ = tokens.create_token(site_db, alice, "w", "write")
    _, spare = tokens.create_token(site_db, alice, "spare", "read")  # the revoke route's
    samples = dict(SAMPLES)
    samples["comment_id"] = str(comments.add_comment(site_db, alice, "2503.00001", "hi").id)
    samples["collection_id"] = str(collections.create(site_db, alice, "mine").id)
    samples["token_id"] = str(spare.id)
    app = create_app(community_settings, site_db)
    with TestClient(app):  # run the lifespan (the vote writer) around the walk
        yield World(app, site_db, community_settings, alice, admin, read, write, samples)


def fill(path: str, samples: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: samples[m.group(1)], path)


def browser(world: World, account: users.Account | None) -> tuple[TestClient, str]:
    """A browser, logged in as ``account`` (a fresh session: the walk logs out too), and the
    CSRF token its forms carry."""
    client = TestClient(world.app)
    if account is not None:
        token = sessions.create_session(world.db, account, 1)
        client.cookies.set("pf_session", token)
    return client, csrf_of(client.get("/login").text)


def call(world: World, method: str, path: str, who: str) -> Response:
    url = fill(path, world.samples)
    api = path.startswith("/api/")
    if who in ("read", "write"):
        client, headers = TestClient(world.app), {"Authorization": f"Bearer {getattr(world, who)}"}
        csrf = None
    else:
        account = {"none": None, "user": world.alice, "admin": world.admin}[who]
        client, csrf = browser(world, account)
        headers = {"X-CSRF-Token": csrf} if api else {}
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if method not in SAFE:
        if api:
            kwargs["json"] = {}
        elif csrf is not None:
            kwargs["data"] = {"csrf_token": csrf}
    return client.request(method, url, **kwargs)


def outcome(response: Response) -> str:
    if response.status_code == 401:
        return "login"
    if response.status_code == 303 and response.headers["location"].startswith("/login?next="):
        return "login"  # LoginRequired's redirect (log out everywhere goes to a bare /login)
    if response.status_code == 403:
        return "refused"
    return "allowed"


def expected(need: Need, method: str, path: str, who: str) -> str:
    """The table's rules, written out once more, as a reader of README would apply them."""
    unsafe = method not in SAFE
    if who == "none":
        return "allowed" if need is PUBLIC else "login"
    if who in ("read", "write"):
        if unsafe and (who == "read" or not path.startswith("/api/")):
            return "refused"
        return "refused" if need in (SESSION, ADMIN) else "allowed"
    if who == "user" and need is ADMIN:
        return "refused"
    return "allowed"


@pytest.mark.slow  # the whole access walk
def test_every_route_with_every_credential(world: World) -> None:
    wrong = []
    walked = 0
    for method, path in registered(world.app):
        need = ACCESS[("GET" if method == "HEAD" else method, path)]
        for who in ("none", "read", "write", "user", "admin"):
            if who == "admin" and need is not ADMIN:
                continue  # an admin is a user; the user's walk covers the rest
            response = call(world, method, path, who)
            got, want = outcome(response), expected(need, method, path, who)
            walked += 1
            if got != want:
                wrong.append(f"{method} {path} as {who}: {response.status_code}, want {want}")
    assert wrong == []
    assert walked > 300  # every route, really walked


def test_a_route_missing_from_the_table_is_refused(world: World) -> None:
    def forgotten() -> dict[str, str]:
        return {"secret": "x"}

    world.app.router.add_api_route("/api/forgotten", forgotten, methods=["GET"])
    r = TestClient(world.app).get("/api/forgotten")
    assert r.status_code == 403 and r.json() == {"error": NOT_LISTED}


# --- the attacks, one by one --------------------------------------------------------


def test_a_read_token_cannot_mint_a_write_token(world: World) -> None:
    """The issue's first example: POST /account/tokens with a read token (even next to the
    owner's session cookie and a good CSRF token: the token is who is asking)."""
    client, csrf = browser(world, world.alice)
    before = len(tokens.list_tokens(world.db, world.alice))
    for token in (world.read, world.write):
        r = client.post(
            "/account/tokens",
            data={"name": "evil", "scope": "write", "csrf_token": csrf},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 403, r.text[:300]
        assert "pf_" not in r.text
    assert len(tokens.list_tokens(world.db, world.alice)) == before


def test_an_admins_tokens_cannot_ban(world: World) -> None:
    client, csrf = browser(world, world.admin)
    read, _ = tokens.create_token(world.db, world.admin, "r", "read")
    write, _ = tokens.create_token(world.db, world.admin, "w", "write")
    for token in (read, write):
        r = client.post(
            "/admin/users",
            data={"username": "alice", "action": "ban", "csrf_token": csrf},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 403
    assert users.get_account_by_email(world.db, "alice@example.org") is not None
    assert sessions.session_account(world.db, sessions.create_session(world.db, world.alice, 1))
    # The admin's session does it (the same form, without the token).
    r = client.post("/admin/users", data={"username": "alice", "action": "ban", "csrf_token": csrf})
    assert r.status_code == 200 and "ban: alice" in r.text


def test_a_read_token_cannot_vote(world: World) -> None:
    """Token votes are answered in front of FastAPI (api/bearer_votes.py): same table."""
    bare = TestClient(world.app)
    before = bare.get("/api/papers/2503.00001").json()["upvotes"]
    for method in ("POST", "DELETE"):
        r = bare.request(
            method,
            "/api/papers/2503.00001/upvote",
            headers={"Authorization": f"Bearer {world.read}"},
        )
        assert r.status_code == 403 and r.json() == {"error": tokens.READ_ONLY}
    assert bare.get("/api/papers/2503.00001").json()["upvotes"] == before
    r = bare.post(
        "/api/papers/2503.00001/upvote", headers={"Authorization": f"Bearer {world.write}"}
    )
    assert r.status_code == 200 and r.json() == {"upvotes": before + 1, "voted": True}


def test_cached_pages_answer_only_anonymous_readers(
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
    make_user: Callable[..., users.Account],  # noqa: F811
) -> None:
    """A page cached for anonymous readers (cached_pages.py, in front of routing) is never
    the answer to a token or a session: those go through the table and the route."""
    alice = make_user("alice")
    read, info = tokens.create_token(site_db, alice, "r", "read")
    app = create_app(community_settings.model_copy(update={"cache_seconds": 60.0}), site_db)
    day = "/papers/date/2025-03-07"
    with TestClient(app) as anon:
        assert "whoami" not in anon.get(day).text
        assert "whoami" not in anon.get(day).text  # now a cache hit
        bearer = {"Authorization": f"Bearer {read}"}
        assert "whoami" in anon.get(day, headers=bearer).text
        tokens.revoke_token(site_db, alice, info.id)
        assert anon.get(day, headers=bearer).status_code == 401
        anon.cookies.set("pf_session", sessions.create_session(site_db, alice, 1))
        assert "whoami" in anon.get(day).text
