"""App factory. ``create_app()`` wires settings, the database, the API, pages and feeds.

Every request reads through ``request.app.state``: ``settings``, ``db`` and ``cache``; nothing
global is mutated, so tests can build several apps with different settings side by side.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import __version__
from paperfeed.community import CommunityError, http_status
from paperfeed.community.submissions import SubmissionFetcher
from paperfeed.community.votes import VoteWriter
from paperfeed.config import Settings, get_settings
from paperfeed.params import BadValue
from paperfeed.store.db import Database, get_database
from paperfeed.web.access import enforce
from paperfeed.web.cache import TTLCache

WEB_DIR = Path(__file__).parent
log = logging.getLogger(__name__)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Everything made so far (modules, templates, the app) lives as long as the worker:
    # freezing it keeps the collector from scanning it again. Without this, a full
    # collection paused the worker for ~80 ms now and then under load (votes' p99).
    gc.collect()
    gc.freeze()
    stop_checkpoints = app.state.db.checkpoint_in_background()

    try:
        yield
    finally:
        await app.state.votes.aclose()  # apply the votes still queued before the worker exits
        await asyncio.to_thread(app.state.submission_fetcher.close)  # each within its deadline
        stop_checkpoints()


class AnswerErrors:
    """Outside Starlette's ``ServerErrorMiddleware``: once that has sent the 500 answer it
    re-raises, and uvicorn then closed the keep-alive connection without a ``Connection:
    close`` header, so a client's next, innocent request on it failed (190 reads during a
    disk-full window). Here an exception after a complete answer is logged and ends there,
    and the connection stays usable. An exception in the middle of a body still reaches the
    server, which must close the connection: the answer is cut short."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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


class PaperfeedApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        return AnswerErrors(super().build_middleware_stack())

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            from paperfeed.web.api.schemas import document_bad_requests

            self.openapi_schema = document_bad_requests(super().openapi())
        return self.openapi_schema


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = PaperfeedApp(
        title="paperfeed",
        version=__version__,
        description=(
            "JSON API of paperfeed. The paper endpoints follow the Hugging Face Daily Papers "
            "API, so `huggingface_hub.HfApi(endpoint=...)` reads them unchanged."
        ),
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=_lifespan,
        # Who may call which route: one table, checked before every route (web/access.py).
        dependencies=[Depends(enforce)],
    )
    app.state.settings = settings
    app.state.db = db or get_database(settings)
    app.state.cache = TTLCache[bytes](settings.cache_seconds)
    app.state.votes = VoteWriter(app.state.db)
    app.state.submission_fetcher = SubmissionFetcher(
        app.state.db, settings, on_added=app.state.cache.clear
    )

    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    from paperfeed.web.api import markdown_router
    from paperfeed.web.api import router as api_router
    from paperfeed.web.api.bearer_votes import BearerVotes
    from paperfeed.web.api.community import router as community_api_router
    from paperfeed.web.auth import LoginRequired, SecurityMiddleware
    from paperfeed.web.cached_pages import CachedPages
    from paperfeed.web.feeds import router as feeds_router
    from paperfeed.web.input_guard import InputGuard
    from paperfeed.web.pages import router as pages_router
    from paperfeed.web.pages.account import router as account_router
    from paperfeed.web.pages.community import router as community_router
    from paperfeed.web.pages.search import router as search_router
    from paperfeed.web.pages.subscriptions import router as subscriptions_router

    # Community API first: its /api/papers/{id}/... routes sit under the paper route's path.
    app.include_router(community_api_router)
    app.include_router(api_router)
    app.include_router(markdown_router)  # /papers/{id}.md, before the pages' /papers/...
    app.include_router(feeds_router)
    app.include_router(search_router)
    app.include_router(account_router)
    app.include_router(community_router)
    app.include_router(subscriptions_router)
    app.include_router(pages_router)
    # Inside SecurityMiddleware (added later = outer): bearer votes and anonymous hits of
    # cached pages skip FastAPI's routing.
    app.add_middleware(BearerVotes)
    app.add_middleware(CachedPages, cache=app.state.cache, settings=settings)
    app.add_middleware(InputGuard)  # before anything reads a value (CachedPages, votes)
    app.add_middleware(SecurityMiddleware, settings=settings, db=app.state.db)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": "log in or send an API token (Authorization: Bearer ...)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        from urllib.parse import quote

        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/login?next={target}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
            )
        from paperfeed.web.pages.errors import error_page

        return error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()
        )
        if _wants_json(request):
            return JSONResponse({"error": problems or "bad request"}, status_code=400)
        from paperfeed.web.pages.errors import error_page

        return error_page(request, 400, problems or "bad request")

    @app.exception_handler(BadValue)
    async def bad_value(request: Request, exc: BadValue) -> Response:
        # A value outside its grammar (params.py), wherever it was read.
        if _wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=400)
        from paperfeed.web.pages.errors import error_page

        return error_page(request, 400, str(exc))

    @app.exception_handler(CommunityError)
    async def community_error(request: Request, exc: CommunityError) -> Response:
        # Domain refusals (not found, not yours, not allowed) carry a message for the user.
        status = http_status(exc)
        if _wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=status)
        from paperfeed.web.pages.errors import error_page

        return error_page(request, status, str(exc))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # The client gets a clean 500 in its own format; AnswerErrors logs the traceback.
        if _wants_json(request):
            return JSONResponse({"error": "internal server error"}, status_code=500)
        from paperfeed.web.pages.errors import error_page

        return error_page(request, 500, "Something went wrong on our side.")

    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"
