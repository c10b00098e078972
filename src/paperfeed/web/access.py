"""Who may call which route: THE table of routes × credentials, and the one check of it.

Every route the app registers is listed in :data:`ACCESS` by method and path template (as
FastAPI reports it: ``route.path_format``, converters dropped) with the credential it needs:

``PUBLIC``
    anyone. A session or token may personalise the answer (a private collection, "you voted").
``LOGIN``
    a browser session or an API token of either scope (reads of the JSON API).
``WRITE``
    a browser session or a ``write`` token (writes of the JSON API).
``SESSION``
    a browser session, never a token: pages and forms that need an account (votes, comments,
    submissions, collections, the account page, tokens, password, e-mail, deletion, log out
    everywhere, digest settings).
``ADMIN``
    an admin's browser session (every /admin page and action, hiding comments).

On top of the table, two rules hold for every route: an API token on an unsafe method of a
page route (not ``/api/``) is refused, because forms take a browser session (and its CSRF
token); a ``read`` token is refused on every unsafe method.

:func:`enforce` applies the table before every FastAPI route runs (an app-level dependency,
so it knows the matched route; FastAPI's own /openapi.json and docs pages and the /static
mount are plain GET routes outside it, listed as ``PUBLIC`` and walked by the test like the
rest). Dependencies run after FastAPI has read the body, so a body that is not even JSON
gets its 400 first; no route code runs before the check. A route missing from the table is
refused: a new route fails closed, and tests/web/test_access.py, which walks every
registered route with every kind of credential, fails until it is listed. Two answers are
made in front of FastAPI and follow this table too: ``api/bearer_votes.py`` (token votes,
the ``WRITE`` vote routes) and ``cached_pages.py`` (anonymous hits of pages only a
``PUBLIC`` route stored).
"""

from __future__ import annotations

import enum

from fastapi import HTTPException, Request

from paperfeed.community.tokens import READ_ONLY
from paperfeed.web.auth import LoginRequired
from paperfeed.web.deps import Caller, get_caller


class Need(enum.Enum):
    PUBLIC = "anyone"
    LOGIN = "a session or any API token"
    WRITE = "a session or a write-scope API token"
    SESSION = "a browser session (no API token)"
    ADMIN = "an admin's browser session (no API token)"


PUBLIC, LOGIN, WRITE, SESSION, ADMIN = Need

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

# (method, path template) -> what the caller needs. One line per route; HEAD is read as GET.
ACCESS: dict[tuple[str, str], Need] = {
    # FastAPI's own pages and the static files
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/assets/{path}"): PUBLIC,
    ("GET", "/static/{path}"): PUBLIC,
    # JSON API: papers
    ("GET", "/api/daily_papers"): PUBLIC,
    ("GET", "/api/papers/search"): PUBLIC,
    ("GET", "/api/papers/{arxiv_id}/similar"): PUBLIC,
    ("GET", "/api/papers/{arxiv_id}"): PUBLIC,
    ("GET", "/papers/{arxiv_id}.md"): PUBLIC,
    ("GET", "/papers/{arxiv_id}.bib"): PUBLIC,
    ("GET", "/api/authors/{name}"): PUBLIC,
    ("GET", "/api/orgs/{name}"): PUBLIC,
    # JSON API: community
    ("GET", "/api/me"): LOGIN,
    ("POST", "/api/papers/{arxiv_id}/upvote"): WRITE,
    ("DELETE", "/api/papers/{arxiv_id}/upvote"): WRITE,
    ("POST", "/api/submissions"): WRITE,
    ("GET", "/api/submissions/{attempt_id}"): LOGIN,
    ("GET", "/api/papers/{arxiv_id}/comments"): PUBLIC,
    ("POST", "/api/papers/{arxiv_id}/comments"): WRITE,
    ("PATCH", "/api/comments/{comment_id}"): WRITE,
    ("DELETE", "/api/comments/{comment_id}"): WRITE,
    ("GET", "/api/users/{username}/collections"): PUBLIC,
    ("GET", "/api/collections/{collection_id}"): PUBLIC,
    ("GET", "/api/collections/{collection_id}/papers"): PUBLIC,
    ("POST", "/api/collections"): WRITE,
    ("PATCH", "/api/collections/{collection_id}"): WRITE,
    ("DELETE", "/api/collections/{collection_id}"): WRITE,
    ("POST", "/api/collections/{collection_id}/papers"): WRITE,
    ("DELETE", "/api/collections/{collection_id}/papers/{arxiv_id}"): WRITE,
    # JSON API: for you (the personal feed)
    ("GET", "/api/recommendations"): LOGIN,
    ("POST", "/api/papers/{arxiv_id}/not-interested"): WRITE,
    ("DELETE", "/api/papers/{arxiv_id}/not-interested"): WRITE,
    # feeds and reading pages
    ("GET", "/feeds/latest.xml"): PUBLIC,
    ("GET", "/feeds/latest.atom"): PUBLIC,
    ("GET", "/feeds/trending.xml"): PUBLIC,
    ("GET", "/feeds/trending.atom"): PUBLIC,
    ("GET", "/feeds/day/{day}.xml"): PUBLIC,
    ("GET", "/feeds/day/{day}.atom"): PUBLIC,
    ("GET", "/search"): PUBLIC,
    ("GET", "/search.xml"): PUBLIC,
    ("GET", "/search.atom"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/papers"): PUBLIC,
    ("GET", "/papers/date"): PUBLIC,
    ("GET", "/papers/date/{day}"): PUBLIC,
    ("GET", "/papers/week/{week}"): PUBLIC,
    ("GET", "/papers/month/{month}"): PUBLIC,
    ("GET", "/papers/trending"): PUBLIC,
    ("GET", "/papers/{arxiv_id}"): PUBLIC,
    ("GET", "/u/{username}"): PUBLIC,
    ("GET", "/view/{mode}"): PUBLIC,  # this browser's list view (a preference cookie)
    ("GET", "/authors/{name}"): PUBLIC,
    ("GET", "/feeds/authors/{name}.atom"): PUBLIC,
    ("GET", "/feeds/authors/{name}.xml"): PUBLIC,
    ("GET", "/orgs/{name}"): PUBLIC,
    ("GET", "/feeds/orgs/{name}.atom"): PUBLIC,
    ("GET", "/feeds/orgs/{name}.xml"): PUBLIC,
    ("GET", "/collections/{collection_id}"): PUBLIC,
    ("GET", "/collections/{collection_id}.xml"): PUBLIC,
    ("GET", "/collections/{collection_id}.atom"): PUBLIC,
    ("GET", "/feeds/for-you/{token}.atom"): PUBLIC,  # the secret token is the credential
    ("GET", "/feeds/for-you/{token}.xml"): PUBLIC,
    # accounts (the forms before login are public; a token on them is refused, as on any form)
    ("GET", "/signup"): PUBLIC,
    ("POST", "/signup"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,  # ends this browser's session, if it has one
    ("GET", "/reset"): PUBLIC,
    ("POST", "/reset"): PUBLIC,
    ("GET", "/reset/{token}"): PUBLIC,  # the signed link is the credential
    ("POST", "/reset/{token}"): PUBLIC,
    ("GET", "/verify/{token}"): PUBLIC,  # the signed link is the credential
    ("POST", "/verify/{token}"): PUBLIC,
    ("GET", "/account"): SESSION,
    ("POST", "/account/password"): SESSION,
    ("POST", "/account/logout-everywhere"): SESSION,
    ("POST", "/account/delete"): SESSION,
    ("POST", "/account/verify"): SESSION,  # mails a new verification link
    ("POST", "/account/tokens"): SESSION,
    ("POST", "/account/tokens/{token_id}/revoke"): SESSION,
    ("GET", "/account/digest"): SESSION,
    # the reader's signals for the personal feed
    ("GET", "/for-you/signals"): SESSION,
    ("POST", "/for-you/signals/paper"): SESSION,
    ("POST", "/for-you/signals/pause"): SESSION,
    ("POST", "/for-you/signals/follows"): SESSION,
    ("POST", "/for-you/signals/digest"): SESSION,
    ("POST", "/for-you/signals/forget"): SESSION,
    ("POST", "/for-you/signals/feed"): SESSION,
    # community forms
    ("POST", "/papers/{arxiv_id}/upvote"): SESSION,
    ("POST", "/papers/{arxiv_id}/comments"): SESSION,
    ("GET", "/comments/{comment_id}/edit"): SESSION,
    ("POST", "/comments/{comment_id}/edit"): SESSION,
    ("POST", "/comments/{comment_id}/delete"): SESSION,
    ("POST", "/comments/{comment_id}/hide"): ADMIN,
    ("GET", "/submit"): SESSION,
    ("POST", "/submit"): SESSION,
    ("GET", "/submit/{attempt_id}"): SESSION,
    ("POST", "/papers/{arxiv_id}/claim"): SESSION,
    ("POST", "/collections"): SESSION,
    ("POST", "/collections/{collection_id}/edit"): SESSION,
    ("POST", "/collections/{collection_id}/delete"): SESSION,
    ("POST", "/collections/add"): SESSION,
    # For you: the reader's own feed and its forms (never a token, never cached)
    ("GET", "/for-you"): SESSION,
    ("POST", "/for-you/seeds"): SESSION,
    ("POST", "/for-you/upload"): SESSION,
    ("POST", "/for-you/follows"): SESSION,
    ("POST", "/papers/{arxiv_id}/not-interested"): SESSION,
    ("POST", "/papers/{arxiv_id}/not-interested/undo"): SESSION,
    # admin
    ("GET", "/admin"): ADMIN,
    ("POST", "/admin/entries"): ADMIN,
    ("POST", "/admin/claims/{claim_id}"): ADMIN,
    ("POST", "/admin/users"): ADMIN,
    ("GET", "/admin/users"): ADMIN,
    ("GET", "/admin/comments"): ADMIN,
    ("GET", "/admin/claims"): ADMIN,
    ("GET", "/admin/subscribers"): ADMIN,
    ("GET", "/admin/digests"): ADMIN,
    ("GET", "/admin/outbox"): ADMIN,
    ("GET", "/admin/outbox/{name}"): ADMIN,
    # digests by mail (signed tokens in the path are the credential)
    ("GET", "/subscribe"): PUBLIC,
    ("POST", "/subscribe"): PUBLIC,
    ("GET", "/subscribe/confirm/{token}"): PUBLIC,
    ("POST", "/subscribe/confirm/{token}"): PUBLIC,
    ("GET", "/unsubscribe/{token}"): PUBLIC,
    ("POST", "/unsubscribe/{token}"): PUBLIC,  # RFC 8058 one-click: no cookie, no CSRF token
    ("GET", "/subscriptions/{token}"): PUBLIC,
    ("POST", "/subscriptions/{token}"): PUBLIC,
}

# What a refused caller is told.
NOT_LISTED = "this route is closed: it is missing from the access table (web/access.py)"
TOKEN_ON_FORM = "API tokens work on /api/ only; this form needs a browser session"
SESSION_ONLY = "this page needs a browser session; API tokens cannot use it"
ADMINS_ONLY = "admins only"


def need(method: str, path_format: str) -> Need | None:
    """What the route needs, or None when it is not in the table (then it is refused)."""
    return ACCESS.get(("GET" if method == "HEAD" else method, path_format))


async def enforce(request: Request) -> None:
    """The app-level dependency: runs after routing and before every FastAPI route."""
    route = request.scope.get("route")
    found = need(request.method, getattr(route, "path_format", ""))
    if found is None:
        raise HTTPException(403, NOT_LISTED)
    if found is PUBLIC and request.method in SAFE:
        return  # nothing to look up: anonymous reads never touch the database here
    # The lookup runs where web/deps.py's rule puts a short read; an unknown or revoked
    # token is a 401 there.
    check(request, found, await get_caller(request))


def check(request: Request, found: Need, who: Caller) -> None:
    """Raise unless the caller ``who`` may use a route that needs ``found`` with this
    method."""
    account, via = who
    token = via in ("read", "write")
    unsafe = request.method not in SAFE
    if unsafe and token and not request.scope["route"].path_format.startswith("/api/"):
        raise HTTPException(403, TOKEN_ON_FORM)
    if unsafe and via == "read":
        raise HTTPException(403, READ_ONLY)
    if found is PUBLIC:
        return
    if account is None:
        raise LoginRequired()
    if found in (SESSION, ADMIN) and token:
        raise HTTPException(403, SESSION_ONLY)
    if found is ADMIN and not account.is_admin:
        raise HTTPException(403, ADMINS_ONLY)
