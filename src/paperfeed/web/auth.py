"""Who is asking, and may they: sessions, API tokens, cookies, CSRF, security headers.

Identity
    The credentials a request may carry: ``Authorization: Bearer pf_…`` (:func:`bearer`) or
    the session cookie (:func:`session_cookie`). Who they name is resolved once per request by
    ``web/deps.py`` (``caller``, ``ViewerDep``, ``UserDep``, ...); what each kind of caller may
    do is decided in one place, the table of ``web/access.py``.

Cookies
    Parsed by one parser, Starlette's (what ``request.cookies`` uses), here as in the routes.
    A Cookie header this site will not guess at is refused (400) on every request: one with
    a control character, or one that names the session or CSRF cookie twice with different
    values (a cookie planted by a sibling host next to ours: which one counts is ambiguous).

CSRF (:class:`SecurityMiddleware`, so no state-changing route can forget it)
    Every POST/PUT/PATCH/DELETE must carry a token, in the ``X-CSRF-Token`` header or a
    ``csrf_token`` form field (urlencoded or multipart), equal to HMAC(secret, session id) for a
    logged-in browser or HMAC(secret, ``pf_csrf`` cookie) before login (signed double submit,
    bound to the session, which rotates at login). Missing or wrong → 403. A cross-site
    ``Origin`` is refused, and so is ``Origin: null`` with this site's session or CSRF cookie
    (sandboxed frames and ``data:`` pages send it: never this site's own forms). Exempt: JSON
    API requests (``/api/``) with a Bearer token (no ambient credential; ``access`` refuses a
    read token's writes) or with no session cookie (they get their 401), and RFC 8058 one-click
    unsubscribe. A Bearer token on a page form is no exemption.

Headers on every response: a strict Content-Security-Policy (``default-src 'self'``, no inline
script or style), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, ``X-Frame-Options``.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.responses import Response
from starlette.formparsers import MultiPartException
from starlette.requests import HTTPConnection, cookie_parser

from paperfeed.community.keys import digest, secret_key, sign
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.early import BodyTooLarge, HttpMiddleware, multipart_fields, read_body, refuse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# RFC 8058 one-click unsubscribe: mail providers POST here without cookies, CSRF token or a
# same-site Origin; the signed token in the path is the credential. The only CSRF exemption.
ONE_CLICK_UNSUBSCRIBE = re.compile(r"/unsubscribe/[0-9]+\.[0-9a-f]{64}")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class LoginRequired(Exception):
    """Raised when a route needs a logged-in caller (``web/deps.py``): pages redirect to
    /login, the API answers 401."""


def cookie_name(settings: Settings, base: str) -> str:
    # __Host- cookies cannot be set by a subdomain or over plain HTTP (no cookie injection).
    return f"__Host-{base}" if settings.cookie_secure else base


def session_cookie(settings: Settings) -> str:
    return cookie_name(settings, "pf_session")


def csrf_cookie(settings: Settings) -> str:
    return cookie_name(settings, "pf_csrf")


def bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


# --- CSRF ----------------------------------------------------------------------------------


def _expected_token(key: bytes, settings: Settings, cookies: dict[str, str]) -> str | None:
    session = cookies.get(session_cookie(settings))
    if session:
        return sign(key, "csrf-session", digest(session))
    anon = cookies.get(csrf_cookie(settings))
    if anon:
        return sign(key, "csrf-anon", anon)
    return None


def csrf_token_for(request: HTTPConnection, settings: Settings, db: Database) -> str:
    """The token forms of this page must carry. Before login, a ``pf_csrf`` cookie is made
    (and set on the response by the middleware) if the browser has none."""
    key = secret_key(db, settings)
    cookies = dict(request.cookies)
    if not cookies.get(session_cookie(settings)) and not cookies.get(csrf_cookie(settings)):
        fresh = getattr(request.state, "pf_new_csrf", None) or secrets.token_urlsafe(24)
        request.state.pf_new_csrf = fresh
        cookies[csrf_cookie(settings)] = fresh
    token = _expected_token(key, settings, cookies)
    assert token is not None
    return token


def set_session(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        session_cookie(settings),
        token,
        max_age=settings.session_days * 86400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie(settings),
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


# --- cookies -------------------------------------------------------------------------------

# C0 controls but tab, and DEL: no browser sends them in a Cookie header.
_COOKIE_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
MALFORMED_COOKIE = (
    "Your browser sent cookies this site cannot read safely. "
    "Clear this site's cookies and reload the page."
)
# Where SecurityMiddleware leaves the parsed cookies for the ASGI layers inside it.
COOKIES_STATE = "pf_cookies"


class MalformedCookies(ValueError):
    """A Cookie header this site does not guess at (see the module docstring)."""


def read_cookies(scope: Scope, own: tuple[str, ...]) -> dict[str, str]:
    """The request's cookies exactly as ``request.cookies`` sees them (Starlette's parser
    over every Cookie header, in order), or :class:`MalformedCookies`. ``own``: the names
    that must not come twice with different values."""
    headers = [value for name, value in scope["headers"] if name == b"cookie"]
    cookies: dict[str, str] = {}
    for raw in headers:
        if _COOKIE_CONTROL.search(raw):
            raise MalformedCookies(MALFORMED_COOKIE)
        cookies.update(cookie_parser(raw.decode("latin-1")))
    for name in own:
        if name in cookies and len(_values_of(headers, name)) > 1:
            raise MalformedCookies(MALFORMED_COOKIE)
    return cookies


def _values_of(headers: list[bytes], name: str) -> set[str]:
    # Pair by pair through the same parser, so "which value wins" is never a question.
    return {
        value
        for raw in headers
        for chunk in raw.decode("latin-1").split(";")
        for key, value in cookie_parser(chunk).items()
        if key == name
    }


def _first_headers(scope: Scope) -> dict[str, str]:
    """Header name -> its first value, as Starlette's ``request.headers.get`` answers."""
    out: dict[str, str] = {}
    for name, value in scope["headers"]:
        out.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return out


class SecurityMiddleware(HttpMiddleware):
    """Cookies, CSRF on unsafe methods and security headers on every response (pure ASGI)."""

    def __init__(self, app: ASGIApp, settings: Settings, db: Database) -> None:
        super().__init__(app)
        self.settings = settings
        self.db = db
        self.own_cookies = (session_cookie(settings), csrf_cookie(settings))

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        try:
            cookies = read_cookies(scope, self.own_cookies)
        except MalformedCookies as exc:
            await refuse(scope, receive, self._with_headers(scope, send), 400, str(exc))
            return
        scope.setdefault("state", {})[COOKIES_STATE] = cookies  # for cached_pages.py
        if scope["method"] in UNSAFE and not (
            scope["method"] == "POST" and ONE_CLICK_UNSUBSCRIBE.fullmatch(path)
        ):
            refused, receive = await self._check_csrf(scope, receive, cookies)
            if refused is not None:
                await refuse(scope, receive, self._with_headers(scope, send), 403, refused)
                return
        await self.app(scope, receive, self._with_headers(scope, send))

    def _with_headers(self, scope: Scope, send: Send) -> Send:
        state = scope.setdefault("state", {})
        policy = CSP  # /api/docs too: its Swagger UI is served from here (web/api_docs.py)
        settings = self.settings

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                raw += [
                    (b"content-security-policy", policy.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                fresh = state.get("pf_new_csrf")
                if fresh:
                    attrs = "; Path=/; HttpOnly; SameSite=Lax"
                    if settings.cookie_secure:
                        attrs += "; Secure"
                    cookie = f"{csrf_cookie(settings)}={fresh}{attrs}"
                    raw.append((b"set-cookie", cookie.encode()))
                message["headers"] = raw
            await send(message)

        return send_with_headers

    async def _check_csrf(
        self, scope: Scope, receive: Receive, cookies: dict[str, str]
    ) -> tuple[str | None, Receive]:
        headers = _first_headers(scope)
        path: str = scope["path"]
        api = path.startswith("/api/")
        if api and bearer(headers.get("authorization")) is not None:
            return None, receive  # no ambient credential; access.py refuses read tokens
        origin = headers.get("origin")
        if origin == "null" and any(name in cookies for name in self.own_cookies):
            return "requests from an opaque origin (Origin: null) are refused", receive
        if origin and origin != "null" and urlsplit(origin).netloc != headers.get("host", ""):
            return "cross-site request refused", receive
        if api and not cookies.get(session_cookie(self.settings)):
            return None, receive  # no ambient credentials: the route answers 401
        given, replay = headers.get("x-csrf-token"), receive
        if given is None:
            given, replay = await _form_token(headers, receive)
            if given is None:
                return "form too large", replay
        if not given:
            return "CSRF token missing", replay
        key = secret_key(self.db, self.settings)
        expected = _expected_token(key, self.settings, cookies)
        if expected is None or not hmac.compare_digest(expected.encode(), given.encode()):
            return "CSRF token wrong or expired; reload the page and try again", replay
        return None, replay


async def _form_token(headers: dict[str, str], receive: Receive) -> tuple[str | None, Receive]:
    """The ``csrf_token`` field of a urlencoded or multipart form (a file upload) ("" when
    none, or malformed), and a ``receive`` that replays the body for the route; None when the
    form is too large."""
    header = headers.get("content-type", "")
    content_type = header.split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return "", receive
    try:
        body, replay = await read_body(receive)
    except BodyTooLarge:
        return None, receive
    if content_type == "multipart/form-data":
        try:
            parts = await multipart_fields(header, body)
        except MultiPartException:
            return "", replay
        return next((v for n, v in parts if n == "csrf_token"), ""), replay
    fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    return (fields.get("csrf_token") or [""])[0], replay
