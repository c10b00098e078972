"""The API's hottest write, ``POST``/``DELETE /api/papers/{id}/upvote`` with a bearer token,
answered in front of FastAPI (pure ASGI).

Why: scripts and apps vote at hundreds of requests a second while the day page is being
read. Through FastAPI's exception middlewares, router and dependency solver a vote cost
about 100 microseconds of Python before any database work; here it is a regular expression.
The token is not looked up here: it goes with the vote (``votes.ByToken``) and is checked in
the vote's own transaction, which on PostgreSQL saves the lookup's three round trips.
The answers are the FastAPI route's own (``api/community.py``, which still serves votes
from a logged-in browser and documents the endpoint in ``/openapi.json``): the same JSON
bodies and status codes, the same ``VoteWriter``. It follows the access table
(``web/access.py``): it answers a method only while the table says ``WRITE`` for it, which
is what ``set_vote`` checks in the transaction (a live token of write scope; a read token
gets 403). This sits inside
``SecurityMiddleware``, so the security headers are set as on every response; bearer
requests carry no ambient credentials, so they need no CSRF token there either.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from paperfeed.community import CommunityError, http_status
from paperfeed.community.keys import digest
from paperfeed.community.tokens import TOKEN_REFUSED
from paperfeed.community.votes import ByToken, TokenRefused, VoteWriter
from paperfeed.papers.ids import ID_PATTERN
from paperfeed.web import access
from paperfeed.web.auth import bearer

# The route's ``/api/papers/{arxiv_id:arxiv}/upvote``, matched as Starlette does.
VOTE_PATH = re.compile(rf"/api/papers/(?P<arxiv_id>{ID_PATTERN})/upvote")
VOTE_ROUTE = "/api/papers/{arxiv_id}/upvote"  # its key in the access table
METHODS = {"POST": True, "DELETE": False}


class BearerVotes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # A vote method the table does not give to write tokens goes on to FastAPI, which
        # applies the table like on every route.
        self.methods = {m for m in METHODS if access.need(m, VOTE_ROUTE) is access.WRITE}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in self.methods:
            match = VOTE_PATH.fullmatch(scope["path"])
            if match is not None:
                token = _authorization(scope)
                if token is not None:
                    await self._vote(scope, send, token, match["arxiv_id"])
                    return
        await self.app(scope, receive, send)

    async def _vote(self, scope: Scope, send: Send, token: str, arxiv_id: str) -> None:
        if not token.startswith("pf_") or len(token) > 128:
            await _json(send, 401, {"error": TOKEN_REFUSED}, _CHALLENGE)
            return
        writer: VoteWriter = scope["app"].state.votes
        try:
            # The token is checked inside the vote's own transaction (votes.ByToken).
            total, voted = await writer.set_vote(
                ByToken(digest(token)), arxiv_id, METHODS[scope["method"]]
            )
        except TokenRefused as exc:
            await _json(send, 401, {"error": str(exc)}, _CHALLENGE)
        except CommunityError as exc:
            await _json(send, http_status(exc), {"error": str(exc)})
        else:
            body = b'{"upvotes":%d,"voted":%s}' % (total, b"true" if voted else b"false")
            await _send(send, 200, body)


_CHALLENGE = ((b"www-authenticate", b"Bearer"),)


def _authorization(scope: Scope) -> str | None:
    """The bearer token, when the request has an ``Authorization: Bearer`` header (other
    schemes go on to FastAPI, which refuses them)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bearer(value.decode("latin-1"))
    return None


async def _json(
    send: Send, status: int, payload: dict[str, str], extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    await _send(send, status, orjson.dumps(payload), extra)


async def _send(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
