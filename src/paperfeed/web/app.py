"""App factory. ``create_app()`` wires settings, the database, the API, pages and feeds.

The per-app services live in ``app.state`` and routes get them as dependencies
(``web/deps.py``); nothing global is mutated, so tests can build several apps with different
settings side by side. How errors are answered: ``web/errors.py``.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from paperfeed import __version__
from paperfeed.community.submissions import SubmissionFetcher
from paperfeed.community.votes import VoteWriter
from paperfeed.config import Settings, get_settings
from paperfeed.search import hybrid
from paperfeed.store.db import Database, get_database
from paperfeed.web.access import enforce
from paperfeed.web.api import markdown_router
from paperfeed.web.api import router as api_router
from paperfeed.web.api.bearer_votes import BearerVotes
from paperfeed.web.api.community import router as community_api_router
from paperfeed.web.api.recommendations import router as recommendations_api_router
from paperfeed.web.api.schemas import document_bad_requests
from paperfeed.web.api_docs import install_api_docs
from paperfeed.web.auth import SecurityMiddleware
from paperfeed.web.cache import PageCache
from paperfeed.web.cached_pages import CachedPages
from paperfeed.web.errors import AnswerErrors, install_error_handlers
from paperfeed.web.feeds import router as feeds_router
from paperfeed.web.for_you_feed import router as for_you_feed_router
from paperfeed.web.input_guard import InputGuard
from paperfeed.web.pages import router as pages_router
from paperfeed.web.pages.account import router as account_router
from paperfeed.web.pages.admin import router as admin_router
from paperfeed.web.pages.community import router as community_router
from paperfeed.web.pages.for_you import router as for_you_router
from paperfeed.web.pages.for_you_signals import router as for_you_signals_router
from paperfeed.web.pages.names import router as names_router
from paperfeed.web.pages.prefs import router as prefs_router
from paperfeed.web.pages.search import router as search_router
from paperfeed.web.pages.submission_status import router as submission_status_router
from paperfeed.web.pages.subscriptions import router as subscriptions_router

WEB_DIR = Path(__file__).parent


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.embedding_load_at_start:
        # Before the worker accepts requests, so that no reader's search waits for the model.
        await asyncio.to_thread(hybrid.warm_up, settings)
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


class PaperfeedApp(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        return AnswerErrors(super().build_middleware_stack())

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
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
        docs_url=None,  # web/api_docs.py serves /api/docs without a CDN
        redoc_url=None,
        lifespan=_lifespan,
        # Who may call which route: one table, checked before every route (web/access.py).
        dependencies=[Depends(enforce)],
    )
    _add_services(app, settings, db or get_database(settings))
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    install_api_docs(app)
    _include_routers(app)
    _add_middleware(app, settings)
    install_error_handlers(app)
    return app


def _add_services(app: FastAPI, settings: Settings, db: Database) -> None:
    """The per-app services that routes get through ``web/deps.py``."""
    app.state.settings = settings
    app.state.db = db
    app.state.cache = PageCache(settings.cache_seconds)
    app.state.votes = VoteWriter(db)
    app.state.submission_fetcher = SubmissionFetcher(db, settings, on_added=app.state.cache.clear)


def _include_routers(app: FastAPI) -> None:
    app.include_router(community_api_router)
    app.include_router(recommendations_api_router)
    app.include_router(api_router)
    app.include_router(markdown_router)
    app.include_router(feeds_router)
    app.include_router(for_you_feed_router)
    app.include_router(search_router)
    app.include_router(account_router)
    app.include_router(community_router)
    app.include_router(for_you_router)
    app.include_router(admin_router)
    app.include_router(submission_status_router)
    app.include_router(names_router)
    app.include_router(subscriptions_router)
    app.include_router(prefs_router)
    app.include_router(for_you_signals_router)
    app.include_router(pages_router)


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Inside SecurityMiddleware (added later = outer): bearer votes and anonymous hits of
    # cached pages skip FastAPI's routing. The rule for any such shortcut: a parity test shows
    # its answer equals the route's (tests/web/test_cached_pages.py,
    # tests/community/test_bearer_votes.py).
    app.add_middleware(BearerVotes)
    app.add_middleware(CachedPages, cache=app.state.cache, settings=settings)
    app.add_middleware(InputGuard)  # before anything reads a value (CachedPages, votes)
    app.add_middleware(SecurityMiddleware, settings=settings, db=app.state.db)
