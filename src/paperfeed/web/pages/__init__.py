"""Server-rendered HTML pages. They work without JavaScript.

Routes
    ``/``                            the latest day that has papers (same content as its day page)
    ``/papers``                      redirects to ``/``
    ``/papers/date?date=YYYY-MM-DD`` redirects to the day page (the header's date form)
    ``/papers/date/YYYY-MM-DD``      one day, best first; prev/next skip days without papers
    ``/papers/week/YYYY-Www``        an ISO week; prev/next skip weeks without papers
    ``/papers/month/YYYY-MM``        a month; prev/next skip months without papers
    ``/papers/trending``             by trending score (ranking.py)
    ``/papers/{arxiv_id}``           one paper; ``2401.01234`` or old-style ``hep-th/9901001``.
                                     A versioned id (``...v2``) redirects to the unversioned page.

Week, month and trending lists are paged with ``?page=N`` (``settings.page_size`` per page).
The paper route only matches arXiv-id shapes (the ``arxiv`` convertor, ``web/convertors.py``),
so ``/papers/{id}.md`` (the API's markdown route) and any other path under ``/papers/`` are never
shadowed by it.

Each page renders to an answer kept in the worker's cache (``CacheDep``) under its path and
query, where ``web/deps.py``'s rule puts the work (``render.cached_page``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from paperfeed import papers
from paperfeed.community import collections, comments
from paperfeed.config import Settings
from paperfeed.papers import FeedItem, ids
from paperfeed.params import parse_day, parse_month, parse_week, whole_number
from paperfeed.search.similar import similar_items
from paperfeed.store.db import Database
from paperfeed.web.cache import PageCache
from paperfeed.web.deps import CacheDep, DatabaseDep, SettingsDep, viewer
from paperfeed.web.pages.render import cached_page, render, site_is_demo

SIMILAR_ON_PAGE = 8  # "Similar papers" on a paper page
GET_HEAD = ["GET", "HEAD"]  # monitors and link checkers send HEAD
router = APIRouter(include_in_schema=False)


@dataclass(slots=True)
class NavLink:
    href: str
    label: str


@dataclass(slots=True)
class FeedLink:
    type: str
    title: str
    href: str


RSS = "application/rss+xml"
ATOM = "application/atom+xml"


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return whole_number(raw, 1, 10_000, "page")


def _site_feeds(settings: Settings) -> list[FeedLink]:
    name = settings.site_name
    return [
        FeedLink(RSS, f"{name}: latest papers (RSS)", "/feeds/latest.xml"),
        FeedLink(ATOM, f"{name}: latest papers (Atom)", "/feeds/latest.atom"),
        FeedLink(RSS, f"{name}: trending papers (RSS)", "/feeds/trending.xml"),
    ]


def _period_nav(day: dt.date | None) -> dict[str, str]:
    """Header tab targets that follow the day being viewed."""
    if day is None:
        return {"daily": "/", "weekly": "/", "monthly": "/"}
    return {
        "daily": f"/papers/date/{day.isoformat()}",
        "weekly": f"/papers/week/{papers.iso_week(day)}",
        "monthly": f"/papers/month/{day:%Y-%m}",
    }


def _paginate(items: list[FeedItem], page: int, size: int) -> tuple[list[FeedItem], int, int]:
    size = max(1, size)
    pages = max(1, -(-len(items) // size))
    start = (page - 1) * size
    return items[start : start + size], start, pages


def _pager(path: str, page: int, pages: int) -> dict[str, Any] | None:
    if pages <= 1:
        return None
    return {
        "page": page,
        "pages": pages,
        "prev": f"{path}?page={page - 1}" if page > 1 else None,
        "next": f"{path}?page={page + 1}" if page < pages else None,
    }


# --- pages -----------------------------------------------------------------------------------


@router.api_route("/", methods=GET_HEAD)
async def home(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep
) -> Response:
    def compute() -> bytes:
        is_demo = site_is_demo(db, cache)
        with db.read() as session:
            day = papers.latest_day(session)
            if day is None:
                return render(
                    request,
                    "empty_site.html",
                    {
                        "is_demo": is_demo,
                        "feeds": _site_feeds(settings),
                        "nav": "daily",
                        "period_nav": _period_nav(None),
                    },
                )
            return _render_day(request, settings, session, day, is_home=True, is_demo=is_demo)

    return await cached_page(request, compute)


@router.api_route("/papers", methods=GET_HEAD)
async def papers_index() -> Response:
    return RedirectResponse("/", status_code=308)


@router.api_route("/papers/date", methods=GET_HEAD)
async def date_form(request: Request) -> Response:
    """Target of the header's date form: ``?date=YYYY-MM-DD`` → the day's page."""
    raw = request.query_params.get("date", "").strip()
    if not raw:
        return RedirectResponse("/", status_code=303)
    day = parse_day(raw)
    return RedirectResponse(f"/papers/date/{day.isoformat()}", status_code=303)


@router.api_route("/papers/date/{day}", methods=GET_HEAD)
async def day_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep, day: str
) -> Response:
    parsed = parse_day(day)

    def compute() -> bytes:
        is_demo = site_is_demo(db, cache)
        with db.read() as session:
            return _render_day(request, settings, session, parsed, is_home=False, is_demo=is_demo)

    return await cached_page(request, compute)


def _render_day(
    request: Request,
    settings: Settings,
    session: Session,
    day: dt.date,
    *,
    is_home: bool,
    is_demo: bool,
) -> bytes:
    items = papers.day_items(session, day)
    prev_day, next_day = papers.adjacent_days(session, day)
    latest = papers.latest_day(session) if not items else None
    feeds = [
        FeedLink(
            RSS,
            f"{settings.site_name}: papers of {day.isoformat()} (RSS)",
            f"/feeds/day/{day.isoformat()}.xml",
        ),
        FeedLink(
            ATOM,
            f"{settings.site_name}: papers of {day.isoformat()} (Atom)",
            f"/feeds/day/{day.isoformat()}.atom",
        ),
        *_site_feeds(settings),
    ]
    return render(
        request,
        "day.html",
        {
            "day": day,
            "items": items,
            "rank_offset": 0,
            "is_home": is_home,
            "prev": NavLink(f"/papers/date/{prev_day.isoformat()}", "Previous day")
            if prev_day
            else None,
            "next": NavLink(f"/papers/date/{next_day.isoformat()}", "Next day")
            if next_day
            else None,
            "prev_day": prev_day,
            "next_day": next_day,
            "latest_day": latest,
            "is_demo": is_demo,
            "feeds": feeds,
            "nav": "daily",
            "period_nav": _period_nav(day),
        },
    )


@dataclass(frozen=True)
class _Period:
    """How a week or month page names itself and links to its neighbours."""

    nav: str  # "weekly" | "monthly"
    unit: str  # "week" | "month"
    heading: str
    subheading: str
    title: str
    slug: Callable[[dt.date], str]  # the URL part of the period holding a day


@router.api_route("/papers/week/{week}", methods=GET_HEAD)
async def week_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep, week: str
) -> Response:
    start, end = parse_week(week)
    last = end - dt.timedelta(days=1)
    year, number, _ = start.isocalendar()
    period = _Period(
        nav="weekly",
        unit="week",
        heading=f"Week {number}, {year}",
        subheading=f"{start:%b} {start.day} – {last:%b} {last.day}, {last.year}",
        title=f"Papers of week {week}",
        slug=papers.iso_week,
    )
    return await _period_page(request, settings, db, cache, start, end, period)


@router.api_route("/papers/month/{month}", methods=GET_HEAD)
async def month_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep, month: str
) -> Response:
    start, end = parse_month(month)
    period = _Period(
        nav="monthly",
        unit="month",
        heading=f"{start:%B} {start.year}",
        subheading="Monthly papers, most upvoted first",
        title=f"Papers of {start:%B} {start.year}",
        slug=lambda day: f"{day:%Y-%m}",
    )
    return await _period_page(request, settings, db, cache, start, end, period)


async def _period_page(
    request: Request,
    settings: Settings,
    db: Database,
    cache: PageCache,
    start: dt.date,
    end: dt.date,
    period: _Period,
) -> Response:
    """A week or month: its papers best first, paged, with links to the nearest periods
    that have papers."""
    page = _page_number(request)

    def compute() -> bytes:
        with db.read() as session:
            items = papers.period_items(session, start, end)
            before, _ = papers.adjacent_days(session, start)
            _, after = papers.adjacent_days(session, end - dt.timedelta(days=1))
        shown, offset, pages = _paginate(items, page, settings.page_size)
        base = f"/papers/{period.unit}"
        return render(
            request,
            "period.html",
            {
                "heading": period.heading,
                "subheading": period.subheading,
                "items": shown,
                "total": len(items),
                "rank_offset": offset,
                "pager": _pager(request.url.path, page, pages),
                "prev": NavLink(f"{base}/{period.slug(before)}", f"Previous {period.unit}")
                if before
                else None,
                "next": NavLink(f"{base}/{period.slug(after)}", f"Next {period.unit}")
                if after
                else None,
                "empty_text": f"No papers were featured this {period.unit}.",
                "is_demo": site_is_demo(db, cache),
                "feeds": _site_feeds(settings),
                "nav": period.nav,
                "period_nav": _period_nav(start),
                "title": period.title,
            },
        )

    return await cached_page(request, compute)


@router.api_route("/papers/trending", methods=GET_HEAD)
async def trending_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep
) -> Response:
    page = _page_number(request)

    def compute() -> bytes:
        with db.read() as session:
            items = papers.trending_items(
                session,
                half_life_hours=settings.trending_half_life_hours,
                window_days=settings.trending_window_days,
            )
            latest = papers.latest_day(session)
        shown, offset, pages = _paginate(items, page, settings.page_size)
        return render(
            request,
            "period.html",
            {
                "heading": "Trending papers",
                "subheading": (
                    f"Upvotes fade with a half-life of {settings.trending_half_life_hours:g} "
                    f"hours; papers featured in the last {settings.trending_window_days} days."
                ),
                "items": shown,
                "total": len(items),
                "rank_offset": offset,
                "pager": _pager(request.url.path, page, pages),
                "prev": None,
                "next": None,
                "empty_text": "Nothing is trending yet.",
                "is_demo": site_is_demo(db, cache),
                "feeds": [
                    FeedLink(
                        RSS, f"{settings.site_name}: trending papers (RSS)", "/feeds/trending.xml"
                    ),
                    FeedLink(
                        ATOM,
                        f"{settings.site_name}: trending papers (Atom)",
                        "/feeds/trending.atom",
                    ),
                    *_site_feeds(settings)[:2],
                ],
                "nav": "trending",
                "period_nav": _period_nav(latest),
                "title": "Trending papers",
            },
        )

    return await cached_page(request, compute)


@router.api_route("/papers/{arxiv_id:arxiv}", methods=GET_HEAD)
async def paper_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep, arxiv_id: str
) -> Response:
    unversioned = ids.unversioned(arxiv_id)
    if unversioned != arxiv_id:
        return RedirectResponse(f"/papers/{unversioned}", status_code=301)

    def compute() -> bytes:
        with db.read() as session:
            detail = papers.get_paper(session, arxiv_id)
        if detail is None:
            raise HTTPException(status_code=404, detail=f"No paper {arxiv_id} on this site.")
        item = detail.item
        last_day = detail.featured_days[-1] if detail.featured_days else None
        extra = _community_context(request, db, item.arxiv_id)
        return render(
            request,
            "paper.html",
            {
                "item": item,
                "similar": _similar_papers(db, settings, item.arxiv_id),
                "featured_days": list(reversed(detail.featured_days)),
                "last_day": last_day,
                "is_demo": site_is_demo(db, cache),
                "feeds": _site_feeds(settings),
                "nav": "",
                "period_nav": _period_nav(last_day),
                **extra,
            },
        )

    return await cached_page(request, compute)


def _similar_papers(db: Database, settings: Settings, arxiv_id: str) -> list[FeedItem]:
    """The paper page's "Similar papers" (semantic index; empty when it is off)."""
    return similar_items(db, settings, arxiv_id, SIMILAR_ON_PAGE) or []


def _community_context(request: Request, db: Database, arxiv_id: str) -> dict[str, Any]:
    """The paper page's discussion, and the viewer's collections."""
    account = viewer(request)  # looked up already, by cached_page
    with db.read() as session:
        thread = comments.thread(
            session, arxiv_id, include_hidden=bool(account and account.is_admin)
        )
    mine = collections.for_user(db, account.username, include_private=True) if account else []
    # ``?added=ID``: where the form without JavaScript put the paper (``/collections/add``).
    added = request.query_params.get("added", "") if account else ""
    return {"comments": thread, "my_collections": mine, "added": added}
