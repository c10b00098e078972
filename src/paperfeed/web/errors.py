"""How the app answers errors: JSON ``{"error": ...}`` under ``/api`` (and the OpenAPI
document), the error page in the site layout everywhere else.

:func:`install_error_handlers` registers one handler per kind of error; :class:`AnswerErrors`
wraps the whole middleware stack so an exception after a complete answer ends there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from paperfeed.community import CommunityError, http_status
from paperfeed.params import BadValue
from paperfeed.recommend import PaperNotFound, RecommendError
from paperfeed.web.auth import LoginRequired
from paperfeed.web.deps import database_of, short_read
from paperfeed.web.early import HttpMiddleware, wants_json
from paperfeed.web.pages.errors import error_page

log = logging.getLogger(__name__)


class AnswerErrors(HttpMiddleware):
    """Outside Starlette's ``ServerErrorMiddleware``: once that has sent the 500 answer it
    re-raises, and uvicorn then closed the keep-alive connection without a ``Connection:
    close`` header, so a client's next, innocent request on it failed (190 reads during a
    disk-full window). Here an exception after a complete answer is logged and ends there,
    and the connection stays usable. An exception in the middle of a body still reaches the
    server, which must close the connection: the answer is cut short."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        answered = False

        async def watch(message: Message) -> None:
            nonlocal answered
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if not answered:
                raise
            log.exception("%s %s failed (answered 500)", scope["method"], scope["path"][:200])


async def _answer(
    request: Request,
    status: int,
    message: str,
    *,
    page_message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``message`` as JSON for the API, the error page (with ``page_message`` when given)
    for HTML, rendered where a short read goes (it may look the viewer up). ``headers`` go on
    the JSON answer only."""
    if wants_json(request.url.path):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    detail = message if page_message is None else page_message
    return await short_read(database_of(request), error_page, request, status, detail)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    return await _answer(request, exc.status_code, str(exc.detail), headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
        for e in exc.errors()
    )
    return await _answer(request, 400, problems or "bad request")


async def _bad_value(request: Request, exc: BadValue) -> Response:
    # A value outside its grammar (params.py), wherever it was read.
    return await _answer(request, 400, str(exc))


async def _community_error(request: Request, exc: CommunityError) -> Response:
    # Domain refusals (not found, not yours, not allowed) carry a message for the user.
    return await _answer(request, http_status(exc), str(exc))


async def _recommend_error(request: Request, exc: RecommendError) -> Response:
    # The personal feed's refusals: an unknown paper is a 404, anything else a 400.
    return await _answer(request, 404 if isinstance(exc, PaperNotFound) else 400, str(exc))


async def _server_error(request: Request, exc: Exception) -> Response:
    # The client gets a clean 500 in its own format; AnswerErrors logs the traceback.
    return await _answer(
        request, 500, "internal server error", page_message="Something went wrong on our side."
    )


async def _login_required(request: Request, exc: LoginRequired) -> Response:
    if wants_json(request.url.path):
        return JSONResponse(
            {"error": "log in or send an API token (Authorization: Bearer ...)"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    target = quote(request.url.path, safe="/")
    return RedirectResponse(f"/login?next={target}", status_code=303)


# One handler per kind of error; Starlette picks the nearest class in the exception's MRO.
_HANDLERS: dict[type[Exception], Callable[[Request, Any], Awaitable[Response]]] = {
    LoginRequired: _login_required,
    StarletteHTTPException: _http_error,
    RequestValidationError: _validation_error,
    BadValue: _bad_value,
    CommunityError: _community_error,
    RecommendError: _recommend_error,
    Exception: _server_error,
}


def install_error_handlers(app: FastAPI) -> None:
    for exc_class, handler in _HANDLERS.items():
        app.add_exception_handler(exc_class, handler)
