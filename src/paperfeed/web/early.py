"""What the pure-ASGI middlewares share when they answer before routing (CSRF and cookies
in ``auth.py``, request values in ``input_guard.py``): reading a body once and handing it
on, and refusing in the caller's format.

A refusal is JSON ``{"error": ...}`` for the API (the same rule as ``errors.py``'s handlers:
:func:`wants_json`), else the site's error page, rendered for an anonymous visitor of ``/``
so that it echoes nothing of the request and costs no session lookup.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import orjson
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1 << 20  # no route takes a larger body (forms, JSON)


class HttpMiddleware:
    """A pure-ASGI middleware that acts on HTTP requests (:meth:`http`) and passes every other
    scope (lifespan, websockets) straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class BodyTooLarge(Exception):
    """The body is larger than any route takes."""


def wants_json(path: str) -> bool:
    """Errors on this path are answered as JSON (the API and its schema), else as a page."""
    return path.startswith("/api/") or path == "/openapi.json"


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands it on, then defers to the real one;
    :class:`BodyTooLarge` past ``limit`` bytes."""
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), _replay(bytes(body), receive, message)
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body), _replay(bytes(body), receive, None)


async def multipart_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The text fields of a multipart body (``content_type``: the whole header, with its
    boundary), parsed as Starlette parses it for the route; ``MultiPartException`` when it
    is malformed."""

    async def stream() -> AsyncGenerator[bytes]:
        yield body

    headers = Headers(raw=[(b"content-type", content_type.encode("latin-1"))])
    form = await MultiPartParser(headers, stream()).parse()
    try:
        return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    finally:
        await form.close()


def _replay(body: bytes, receive: Receive, last: Message | None) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return last if last is not None else await receive()

    return replay


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
    if wants_json(scope["path"]):
        body = orjson.dumps({"error": reason})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    # lazy: a cycle, early <- auth <- deps <- pages.errors (and the pages package's routers)
    from paperfeed.web.pages.errors import error_page

    anonymous = [(k, v) for k, v in scope["headers"] if k not in (b"cookie", b"authorization")]
    clean = dict(scope, path="/", raw_path=b"/", query_string=b"", headers=anonymous)
    await error_page(Request(clean, receive), status, reason)(clean, receive, send)
