"""RSS 2.0 and Atom feeds. Each list comes in both formats: ``.xml`` is RSS 2.0, ``.atom`` Atom.

Routes
    ``/feeds/latest.xml``, ``/feeds/latest.atom``
        papers of the latest ``LATEST_DAYS`` days that have papers (``?days=N``, 1–14, to change
        it), newest day first, each day in daily order (upvotes, then submission time)
    ``/feeds/trending.xml``, ``/feeds/trending.atom``
        the first ``settings.page_size`` papers by trending score
    ``/feeds/day/YYYY-MM-DD.xml``, ``/feeds/day/YYYY-MM-DD.atom``
        one day's papers in daily order (a malformed date answers 400)

Every page links its feeds with ``<link rel="alternate">``. Links are absolute, built on
``settings.base_url``. Each item's guid (Atom: id) is the paper's arXiv abstract URL, its link
the paper's page on this site. RSS dates are RFC 822 (``email.utils``), Atom dates RFC 3339.
Documents are built with ``xml.etree`` (so text is always escaped); characters XML forbids
are dropped first. RSS readers take ``<title>`` and ``<description>`` as HTML, so those texts are
HTML-escaped before ``xml.etree`` escapes them for XML (an abstract's ``<EOS>`` then shows as
``<EOS>``, an ingested ``<img onerror>`` as text); Atom marks its texts ``type="text"`` instead.
Rendered answers are kept in the worker's cache (``CacheDep``) like the HTML pages; a miss is
rendered where ``web/deps.py``'s rule puts a short read.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperfeed import __version__, papers
from paperfeed.config import Settings
from paperfeed.papers import FeedItem
from paperfeed.params import parse_day, whole_number
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow
from paperfeed.web.cache import CachedPage, PageCache
from paperfeed.web.deps import CacheDep, DatabaseDep, SettingsDep, short_read

LATEST_DAYS = 3
MAX_LATEST_DAYS = 14
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"

ET.register_namespace("atom", ATOM_NS)
ET.register_namespace("dc", DC_NS)

# XML 1.0 forbids most C0 controls (and lone surrogates, U+FFFE/U+FFFF) even when escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

GET_HEAD = ["GET", "HEAD"]  # monitors and link checkers send HEAD
router = APIRouter(prefix="/feeds", include_in_schema=False)


@dataclass(slots=True)
class FeedDoc:
    """What a feed says about itself, whatever its format."""

    title: str
    description: str
    page_path: str  # the HTML page this feed mirrors
    self_path: str  # this feed's path (without format suffix)
    items: Sequence[FeedItem]
    # arXiv id → a sentence that leads the item's summary (the private feed's reasons)
    notes: Mapping[str, str] = field(default_factory=dict)


def _clean(text: str | None) -> str:
    return _XML_INVALID.sub("", " ".join((text or "").split()))


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _rfc822(value: dt.datetime) -> str:
    return email.utils.format_datetime(_utc(value))


def _rfc3339(value: dt.datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _item_time(item: FeedItem) -> dt.datetime:
    """When the item appeared in this feed: its daily entry, else its arXiv dates."""
    if item.submitted_at:
        return item.submitted_at
    if item.day:
        return dt.datetime.combine(item.day, dt.time())
    return item.updated_at or item.published_at or utcnow()


def _updated(doc: FeedDoc) -> dt.datetime:
    times = [_item_time(i) for i in doc.items]
    return max(times) if times else utcnow()


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def _html(text: str | None) -> str:
    """Plain text as the HTML an RSS reader expects in ``<title>`` and ``<description>``."""
    return html.escape(_clean(text), quote=False)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = _clean(text)
    return el


def _categories(item: FeedItem) -> list[str]:
    cats = list(item.categories or [])
    if item.primary_category:
        cats = [item.primary_category, *[c for c in cats if c != item.primary_category]]
    return cats


def render_rss(doc: FeedDoc, settings: Settings) -> bytes:
    base = _base(settings)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", _html(doc.title))
    _sub(channel, "link", base + doc.page_path)
    _sub(channel, "description", _html(doc.description))
    _sub(channel, "language", "en")
    _sub(channel, "generator", f"paperfeed {__version__}")
    _sub(channel, "lastBuildDate", _rfc822(_updated(doc)))
    _sub(
        channel,
        f"{{{ATOM_NS}}}link",
        href=f"{base}{doc.self_path}.xml",
        rel="self",
        type="application/rss+xml",
    )
    for item in doc.items:
        entry = _sub(channel, "item")
        _sub(entry, "title", _html(item.title))
        _sub(entry, "link", f"{base}/papers/{item.arxiv_id}")
        _sub(entry, "guid", item.arxiv_url, isPermaLink="true")
        _sub(entry, "pubDate", _rfc822(_item_time(item)))
        if item.authors:
            _sub(entry, f"{{{DC_NS}}}creator", ", ".join(item.authors))
        for cat in _categories(item):
            _sub(entry, "category", cat)
        _sub(entry, "description", _html(_summary(item, doc.notes.get(item.arxiv_id))))
        _sub(entry, "comments", f"{base}/papers/{item.arxiv_id}")
    out: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return out


def render_atom(doc: FeedDoc, settings: Settings) -> bytes:
    base = _base(settings)
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(root, "id", f"{base}{doc.self_path}.atom")
    _sub(root, "title", doc.title)
    _sub(root, "subtitle", doc.description)
    _sub(root, "updated", _rfc3339(_updated(doc)))
    _sub(root, "link", rel="alternate", type="text/html", href=base + doc.page_path)
    _sub(root, "link", rel="self", type="application/atom+xml", href=f"{base}{doc.self_path}.atom")
    _sub(root, "generator", "paperfeed", version=__version__)
    author = _sub(root, "author")
    _sub(author, "name", settings.site_name)
    for item in doc.items:
        entry = _sub(root, "entry")
        _sub(entry, "id", item.arxiv_url)
        _sub(entry, "title", item.title, type="text")
        _sub(
            entry, "link", rel="alternate", type="text/html", href=f"{base}/papers/{item.arxiv_id}"
        )
        _sub(entry, "link", rel="related", type="text/html", href=item.arxiv_url)
        _sub(entry, "updated", _rfc3339(_item_time(item)))
        if item.published_at:
            _sub(entry, "published", _rfc3339(item.published_at))
        for name in item.authors or []:
            _sub(_sub(entry, "author"), "name", name)
        for cat in _categories(item):
            _sub(entry, "category", term=_clean(cat))
        _sub(entry, "summary", _summary(item, doc.notes.get(item.arxiv_id)), type="text")
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out


def _summary(item: FeedItem, note: str | None = None) -> str:
    votes = f"{item.upvotes} upvote{'s' if item.upvotes != 1 else ''}"
    text = f"{item.abstract} ({votes})" if item.abstract else votes
    return f"{note} — {text}" if note else text


# --- data --------------------------------------------------------------------------------------


def _latest_doc(request: Request, settings: Settings, db: Database) -> FeedDoc:
    raw = request.query_params.get("days", str(LATEST_DAYS))
    days = whole_number(raw, 1, MAX_LATEST_DAYS, "days")
    items: list[FeedItem] = []
    with db.read() as session:
        for day in papers.latest_days(session, days):
            items.extend(papers.day_items(session, day))
    title = f"{settings.site_name}: latest papers"
    about = "Papers of the latest days, most upvoted first within each day."
    return FeedDoc(title, about, "/", "/feeds/latest", items)


def _trending_doc(settings: Settings, db: Database) -> FeedDoc:
    with db.read() as session:
        items = papers.trending_items(
            session,
            half_life_hours=settings.trending_half_life_hours,
            window_days=settings.trending_window_days,
        )[: max(1, settings.page_size)]
    title = f"{settings.site_name}: trending papers"
    about = "Papers by trending score: upvotes that fade with time."
    return FeedDoc(title, about, "/papers/trending", "/feeds/trending", items)


def _day_doc(settings: Settings, db: Database, day: str) -> FeedDoc:
    parsed = parse_day(day)
    with db.read() as session:
        items = papers.day_items(session, parsed)
    day = parsed.isoformat()
    title = f"{settings.site_name}: papers of {day}"
    about = f"Daily papers of {day}, most upvoted first."
    return FeedDoc(title, about, f"/papers/date/{day}", f"/feeds/day/{day}", items)


async def feed_response(
    request: Request,
    settings: Settings,
    db: Database,
    cache_: PageCache,
    doc_of: Callable[[], FeedDoc],
) -> Response:
    """The feed ``doc_of()``, as RSS when the path ends in ``.xml``, else as Atom."""
    rss = request.url.path.endswith(".xml")

    def compute() -> CachedPage:
        doc = doc_of()
        if rss:
            return CachedPage(200, RSS_TYPE, render_rss(doc, settings))
        return CachedPage(200, ATOM_TYPE, render_atom(doc, settings))

    key = ("feed", request.url.path, request.url.query)
    page = await short_read(db, cache_.get_or_set, key, compute)
    return page.response()


# --- routes ------------------------------------------------------------------------------------


# Each feed in both formats: the path's ending says which (``.xml`` RSS, ``.atom`` Atom).


@router.api_route("/latest.xml", methods=GET_HEAD)
@router.api_route("/latest.atom", methods=GET_HEAD)
async def latest_feed(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep
) -> Response:
    doc = partial(_latest_doc, request, settings, db)
    return await feed_response(request, settings, db, cache, doc)


@router.api_route("/trending.xml", methods=GET_HEAD)
@router.api_route("/trending.atom", methods=GET_HEAD)
async def trending_feed(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep
) -> Response:
    return await feed_response(request, settings, db, cache, partial(_trending_doc, settings, db))


@router.api_route("/day/{day}.xml", methods=GET_HEAD)
@router.api_route("/day/{day}.atom", methods=GET_HEAD)
async def day_feed(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep, day: str
) -> Response:
    return await feed_response(request, settings, db, cache, partial(_day_doc, settings, db, day))
