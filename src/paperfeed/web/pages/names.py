"""Author and organization pages, and their feeds.

Routes
    ``/authors/{name}``                       the papers with an author of that name, newest first
    ``/orgs/{name}``                          the papers of that organization, newest first
    ``/feeds/authors/{name}.atom`` (``.xml``) the author's newest papers as Atom (RSS)
    ``/feeds/orgs/{name}.atom`` (``.xml``)    the same for an organization

A name matches whatever its case, accents and spacing (``papers/names.py``); the page shows
it as the newest paper writes it. Pages are paged with ``?page=N`` (``settings.page_size``
per page); feeds hold the first page. A name is text of 1 to 200 characters
(``params.parse_name``; else 400); a name no paper has is a 404. The JSON twins are
``/api/authors/{name}`` and ``/api/orgs/{name}`` (``web/api/routes.py``).

One grammar for names in every path: ``{name}`` is the rest of the path, percent-decoded,
whatever it holds (``/`` included: ``AI/ML Lab`` is ``/orgs/AI%2FML%20Lab``; a name ending in
``.atom`` is a page like any other). Feeds live under ``/feeds/``, where the last ``.atom`` or
``.xml`` is the format, so no name is ever read as a feed or a feed as a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from paperfeed import papers
from paperfeed.papers.names import Kind
from paperfeed.params import parse_name
from paperfeed.store.db import Database
from paperfeed.web.deps import CacheDep, DatabaseDep, SettingsDep
from paperfeed.web.feeds import FeedDoc, feed_response
from paperfeed.web.pages import ATOM, GET_HEAD, RSS, FeedLink, page_number, pager, period_nav
from paperfeed.web.pages.render import cached_page, render, site_is_demo

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class _Kind:
    kind: Kind
    prefix: str  # "/authors" | "/orgs"
    by: str  # "by" | "from"
    eyebrow: str


AUTHOR = _Kind("author", "/authors", "by", "Author")
ORG = _Kind("org", "/orgs", "from", "Organization")


def name_path(prefix: str, name: str) -> str:
    """The path of a name's page (every character but the unreserved ones escaped)."""
    return f"{prefix}/{quote(name, safe='')}"


def _found(db: Database, kind: _Kind, name: str, offset: int, limit: int) -> papers.NamedPapers:
    with db.read() as session:
        found = papers.papers_by_name(session, kind.kind, name, offset, limit)
    if found is None:
        what = "author" if kind is AUTHOR else "organization"
        raise HTTPException(404, f"No paper on this site has the {what} {name[:80]!r}.")
    return found


def _kind(request: Request) -> _Kind:
    """Which name the route is for: its path says (``[/feeds]/orgs/...`` or ``.../authors/...``)."""
    return ORG if ORG.prefix + "/" in request.scope["route"].path_format else AUTHOR


# Each route serves authors and organizations alike: the path says which (``_kind``), and
# a feed's ending says its format (``.atom`` or ``.xml``, ``feeds.feed_response``).


@router.api_route("/feeds/authors/{name:path}.atom", methods=GET_HEAD)
@router.api_route("/feeds/authors/{name:path}.xml", methods=GET_HEAD)
@router.api_route("/feeds/orgs/{name:path}.atom", methods=GET_HEAD)
@router.api_route("/feeds/orgs/{name:path}.xml", methods=GET_HEAD)
async def name_feed(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep, name: str
) -> Response:
    kind, parsed = _kind(request), parse_name(name)

    def doc() -> FeedDoc:
        found = _found(db, kind, parsed, 0, max(1, settings.page_size))
        path = name_path(kind.prefix, found.name)
        return FeedDoc(
            title=f"{settings.site_name}: papers {kind.by} {found.name}",
            description=f"The newest papers {kind.by} {found.name} on {settings.site_name}.",
            page_path=path,
            self_path=f"/feeds{path}",
            items=found.items,
        )

    return await feed_response(request, settings, db, cache, doc)


@router.api_route("/authors/{name:path}", methods=GET_HEAD)
@router.api_route("/orgs/{name:path}", methods=GET_HEAD)
async def name_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep, name: str
) -> Response:
    kind, parsed, number = _kind(request), parse_name(name), page_number(request)
    size = max(1, settings.page_size)

    def compute() -> bytes:
        found = _found(db, kind, parsed, (number - 1) * size, size)
        path = name_path(kind.prefix, found.name)
        title = f"Papers {kind.by} {found.name}"
        return render(
            request,
            "names.html",
            {
                "eyebrow": kind.eyebrow,
                "heading": found.name,
                "by": kind.by,
                "total": found.total,
                "items": found.items,
                "pager": pager(path, number, max(1, -(-found.total // size))),
                "canonical": path if number == 1 else f"{path}?page={number}",
                "feed_path": f"/feeds{path}.atom",
                "json_path": f"/api{path}",
                "is_demo": site_is_demo(db, cache),
                "feeds": [
                    FeedLink(ATOM, f"{settings.site_name}: {title}", f"/feeds{path}.atom"),
                    FeedLink(RSS, f"{settings.site_name}: {title} (RSS)", f"/feeds{path}.xml"),
                ],
                "title": title,
                "nav": "",
                "period_nav": period_nav(None),
            },
        )

    return await cached_page(request, compute)


__all__ = ["name_path", "router"]
