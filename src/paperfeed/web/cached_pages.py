"""Anonymous GETs of cached HTML pages, answered in front of FastAPI (pure ASGI).

Why: the day page is what most visitors read, and a worker keeps it rendered
(``pages.render.cached_page``, ``PAPERFEED_CACHE_SECONDS``). Even so a hit cost about 250
microseconds of Python, two thirds of it FastAPI's router trying the ~90 routes in turn
before it reached the page's. Under a read flood that time is what every other request
(an upvote) waits behind on the worker's event loop. Here a hit is a dictionary lookup.

Only a request the full app would answer from the same cache entry is answered here: a GET
with no ``Authorization`` header, no ``Accept`` that names markdown (a paper page answers
its markdown twin to one that prefers it, ``Vary: Accept``) and no session cookie (a logged-
in page is never cached; the cookies are the ones ``SecurityMiddleware`` parsed, with the
app's one parser), whose path and query string have a fresh entry, stored by the page itself
under ``render.page_key``. The answer is the page's own: ``CachedPage.send`` sends the bytes
of ``CachedPage.response()``, which is what the page route answers too. Everything else, and
every miss, goes on to FastAPI, which renders and stores the page. This sits inside
``SecurityMiddleware``, so the security headers are added as on every response. An entry
exists only if an anonymous GET of its path passed ``access.enforce``, i.e. its route is
``PUBLIC`` in the access table.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from paperfeed.config import Settings
from paperfeed.web.auth import COOKIES_STATE, session_cookie
from paperfeed.web.cache import CachedPage, PageCache
from paperfeed.web.pages.render import page_key


class CachedPages:
    def __init__(self, app: ASGIApp, cache: PageCache, settings: Settings) -> None:
        self.app = app
        self.cache = cache
        # Any cookie by this name sends the request on, valid session or not: the full app
        # decides what such a visitor sees.
        self.session_cookie = session_cookie(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            page = self._hit(scope)
            if page is not None:
                await page.send(send)
                return
        await self.app(scope, receive, send)

    def _hit(self, scope: Scope) -> CachedPage | None:
        cookies = scope.get("state", {}).get(COOKIES_STATE)
        if cookies is None or self.session_cookie in cookies:
            return None  # not parsed (no SecurityMiddleware outside): the app decides
        for name, value in scope["headers"]:
            if name == b"authorization":
                return None
            if name == b"accept" and b"markdown" in value:
                return None  # may want a page's markdown twin: the route negotiates
        return self.cache.get(page_key(scope))
