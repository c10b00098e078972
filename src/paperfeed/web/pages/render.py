"""Rendering helpers shared by the HTML pages and the error pages.

One Jinja2 environment per process, templates loaded from the package, autoescape on for every
template. Pages render to bytes; the app's ``PageCache`` keeps an anonymous page's answer (a
``CachedPage``) for ``settings.cache_seconds``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, PackageLoader

from paperfeed import __version__, papers
from paperfeed.community.votes import voted_ids
from paperfeed.recommend.signals import dismissed_ids
from paperfeed.store.db import Database
from paperfeed.text import safe_url, truncate
from paperfeed.web import deps
from paperfeed.web.auth import COOKIES_STATE
from paperfeed.web.cache import CachedPage, PageCache

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
HTML_TYPE = "text/html; charset=utf-8"
MAX_CARD_AUTHORS = 3  # authors a card shows before "+N more"
MAX_PAGE_AUTHORS = 12  # the same on a paper's page
# The list view a browser chose (``/view/{mode}``, app.js): a plain preference cookie, read
# by the server so the choice works without JavaScript and the page comes right the first
# time (no flash). It is part of an anonymous page's cache key: two variants at most.
VIEW_COOKIE = "pf_view"
LIST_VIEWS = ("cards", "compact")


def format_day(day: dt.date) -> str:
    """``Monday, March 3, 2025``."""
    return f"{day:%A}, {day:%B} {day.day}, {day.year}"


def format_short_day(day: dt.date) -> str:
    """``Mar 3, 2025``."""
    return f"{day:%b} {day.day}, {day.year}"


def format_count(n: int | None) -> str:
    """``950``, ``1.2k``, ``12k``."""
    if n is None:
        return ""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n // 1000}k"


def categories_primary_first(categories: list[str] | None, primary: str | None) -> list[str]:
    cats = list(categories or [])
    if primary:
        cats = [primary, *[c for c in cats if c != primary]]
    return cats


def github_label(url: str | None) -> str:
    """``owner/name`` for a GitHub URL, else the URL without its scheme."""
    if not url:
        return ""
    for prefix in ("https://github.com/", "http://github.com/", "https://www.github.com/"):
        if url.startswith(prefix):
            return url[len(prefix) :].strip("/")
    return url.split("://", 1)[-1].strip("/")


_VIDEO = (".mp4", ".webm", ".mov", ".m4v", ".ogv")
_IMAGE = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif")


def media_kind(url: str) -> str:
    """``Video``, ``Image`` or ``Media``, from a media link's file extension. The page links
    media and never embeds them: nothing is fetched from another host by a visitor's page."""
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(_VIDEO):
        return "Video"
    return "Image" if path.endswith(_IMAGE) else "Media"


def url_host(url: str) -> str:
    """The host of an http(s) URL (``cdn.example.org``), for a link's label."""
    return url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]


def path_part(text: str) -> str:
    """``text`` as one segment of a URL path (``/`` and every reserved character escaped)."""
    return quote(text, safe="")


def iso_z(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


@cache
def static_version() -> str:
    """A short hash of the static files, appended to their URLs to bust browser caches."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


# What the templates call by name: filters (``{{ day | short_day }}``) and globals.
FILTERS: dict[str, Callable[..., Any]] = {
    "day": format_day,
    "short_day": format_short_day,
    "count": format_count,
    "truncate_text": truncate,
    "github_label": github_label,
    "iso_z": iso_z,
    "safe_url": safe_url,
    "media_kind": media_kind,
    "url_host": url_host,
    "path_part": path_part,
}
GLOBALS: dict[str, Any] = {
    "categories_primary_first": categories_primary_first,
    "max_card_authors": MAX_CARD_AUTHORS,
    "max_page_authors": MAX_PAGE_AUTHORS,
    "static_version": static_version,
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("paperfeed.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    return env


def site_is_demo(db: Database, cache_: PageCache) -> bool:
    """True when the site shows generated demo data (kept beside the pages, as long)."""

    def compute() -> bool:
        with db.read() as session:
            return papers.is_demo_site(session)

    return cache_.flags.get_or_set(("site-meta", "demo"), compute)


def list_view(scope: Mapping[str, Any]) -> str:
    """``compact`` when the browser chose the compact list, else ``cards``: from the cookies
    ``SecurityMiddleware`` parsed (the one parser; none parsed: the default)."""
    cookies = scope.get("state", {}).get(COOKIES_STATE) or {}
    return "compact" if cookies.get(VIEW_COOKIE) == "compact" else "cards"


def render(request: Request, template: str, context: Mapping[str, Any]) -> bytes:
    """Render a page template (which extends base.html) with the site context to bytes."""
    settings = deps.settings_of(request)
    query = request.url.query
    full: dict[str, Any] = {
        "site_name": settings.site_name,
        "request_path": request.url.path,
        "request_target": request.url.path + (f"?{query}" if query else ""),
        "list_view": list_view(request.scope),
        "is_demo": context.get("is_demo", False),
        "feeds": [],
        "nav": "",
        "dismiss_next": "",
    }
    full.update(context)
    full.update(_viewer_context(request, full))
    full["verified"] = _verified_authors(request, full)
    return environment().get_template(template).render(full).encode()


def _shown_ids(context: Mapping[str, Any]) -> list[str]:
    """The arXiv ids of the papers a page shows in full (its list, its paper)."""
    ids = [i.arxiv_id for i in context.get("items") or [] if hasattr(i, "arxiv_id")]
    item = context.get("item")
    if item is not None and hasattr(item, "arxiv_id"):
        ids.append(item.arxiv_id)
    return ids


def _verified_authors(request: Request, context: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The shown papers' authors verified by an approved claim (the authors' mark)."""
    ids = _shown_ids(context)
    if not ids:
        return {}
    with deps.database_of(request).read() as session:
        return papers.verified_authors(session, ids)


def _viewer_context(request: Request, context: Mapping[str, Any]) -> dict[str, Any]:
    """Per-user bits: the viewer, the CSRF token of its forms, the papers it upvoted and
    those it marked "not interested" among those on the page. Anonymous: none of them, so
    the page can be cached and shared."""
    try:
        account = deps.viewer(request)
    except Exception:  # a bad token on an error page: render it anonymous
        account = None
    if account is None:
        return {"viewer": None, "csrf_token": "", "voted": frozenset(), "dismissed": frozenset()}
    ids = _shown_ids(context)
    voted: set[str] = set()
    dismissed: set[str] = set()
    if ids:
        with deps.database_of(request).read() as session:
            voted = voted_ids(session, account.id, ids)
            dismissed = dismissed_ids(session, account.id, ids)
    return {
        "viewer": account,
        "csrf_token": deps.csrf_token(request),
        "voted": voted,
        "dismissed": dismissed,
    }


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type`` itself (wildcards not counted), 0 if none."""
    for part in accept.split(","):
        name, *params = part.split(";")
        if name.strip().lower() != media_type:
            continue
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    return max(0.0, min(1.0, float(value.strip())))
                except ValueError:
                    return 0.0
        return 1.0
    return 0.0


def prefers_markdown(accept: str) -> bool:
    """Whether an ``Accept`` header asks for ``text/markdown`` over HTML: markdown named with
    a higher q than ``text/html`` (or than ``text/*``, ``*/*`` when HTML is not named). A
    browser's header (``text/html,...,*/*;q=0.8``) gets HTML; HTML wins ties."""
    if "markdown" not in accept:
        return False
    markdown = _quality(accept, "text/markdown")
    for html_type in ("text/html", "text/*", "*/*"):
        if html_type in accept:
            return markdown > _quality(accept, html_type)
    return markdown > 0


def page_key(scope: Mapping[str, Any]) -> tuple[str, str, bytes, str]:
    """The cache key of an anonymous page: its path and raw query string, as the ASGI scope
    has them, and the list view the page was rendered for (``list_view``; the cookie changes
    the HTML). ``web/cached_pages.py`` looks pages up by the same key before routing."""
    return ("html", scope["path"], scope.get("query_string", b""), list_view(scope))


async def cached_page(
    request: Request, compute: Callable[[], bytes | CachedPage], *, vary: bool = False
) -> Response:
    """The page of this request's path and query, ``compute()`` rendering its HTML (or
    another answer: a redirect): from the worker's cache (fresh, or stale while a refresh
    runs), else computed, a short read where ``web/deps.py``'s rule puts it (the caller's
    lookup too). ``web/cached_pages.py`` answers a fresh hit with the same
    ``CachedPage.response()`` without routing. ``vary``: the page also has another form for
    another ``Accept`` (``Vary: Accept``)."""
    db = deps.database_of(request)
    headers = (("vary", "Accept"),) if vary else ()

    def page() -> CachedPage:
        body = compute()
        return body if isinstance(body, CachedPage) else html_page(body, headers=headers)

    if (await deps.get_caller(request))[0] is not None:
        # A logged-in page carries per-user bits (votes, CSRF token): never shared, never kept.
        return (await deps.short_read(db, page)).response()
    cache_ = deps.cache_of(request)
    return (await deps.cached(cache_, db, page_key(request.scope), page)).response()


def html_page(
    body: bytes, status: int = 200, headers: tuple[tuple[str, str], ...] = ()
) -> CachedPage:
    return CachedPage(status, HTML_TYPE, body, headers)


def redirect_page(location: str, status: int = 302) -> CachedPage:
    """A redirect to a path of this site, kept in the page cache like a page."""
    return CachedPage(status, HTML_TYPE, b"", (("location", location),))


def html_response(body: bytes, status: int = 200) -> Response:
    return html_page(body, status).response()
