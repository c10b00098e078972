"""The search page and its feeds.

Routes
    ``/search?q=…``          results of the query language (see paperfeed.search.query), with
                             filters from the form: ``cat``, ``from``, ``to`` (YYYY[-MM[-DD]]),
                             ``code=1``; paged with ``page``. An arXiv id or URL that names a
                             paper on this site redirects to its page.
    ``/search.xml?q=…``      RSS 2.0 of the newest papers matching every word and filter
    ``/search.atom?q=…``     the same as Atom

A malformed filter answers 400 with the search page, the problem shown inline and the query
kept in the box (the feeds: a plain 400); text never fails (it is cleaned). Titles and
abstract snippets highlight the query's words; a card marks the authors the query names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape

from paperfeed import papers
from paperfeed.config import Settings
from paperfeed.papers import FeedItem
from paperfeed.params import whole_number
from paperfeed.search import hybrid
from paperfeed.search.authors import matched_authors
from paperfeed.search.query import (
    MAX_QUERY_CHARS,
    ParsedQuery,
    QueryError,
    clean,
    parse_query,
    words_of,
)
from paperfeed.store.db import Database
from paperfeed.web.deps import CacheDep, DatabaseDep, SettingsDep, slow
from paperfeed.web.feeds import FeedDoc, render_atom, render_rss
from paperfeed.web.pages.render import html_response, render, site_is_demo

GET_HEAD = ["GET", "HEAD"]
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
PAGE_SIZE = 20
MAX_PAGE = 50
FEED_SIZE = 50
SNIPPET_CHARS = 320
_SELF = "/search-feed-self"
_FILTER_VALUE = re.compile(r"^[\w.\-]{1,40}$")

router = APIRouter(include_in_schema=False)


@dataclass(slots=True)
class Hit:
    item: FeedItem
    title: Markup
    snippet: Markup
    matched: list[str]  # the authors the query names (shown even when not among the first)


def _prefixes(words: list[str]) -> list[str]:
    """What a word of the query matches in text: its first letters, so that ``planners``
    also marks ``planner`` and ``planning`` (the index stems them alike)."""
    out = []
    for w in dict.fromkeys(words):
        out.append(w[: max(4, len(w) - 3)] if len(w) > 5 else w)
    return out


def _pattern(words: list[str]) -> re.Pattern[str] | None:
    prefixes = [p for p in _prefixes(words) if p]
    if not prefixes:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})\w*", re.IGNORECASE)


def highlight(text: str, pattern: re.Pattern[str] | None) -> Markup:
    """``text`` escaped, with the matches of ``pattern`` in ``<mark>``."""
    if pattern is None:
        return escape(text)
    out: list[str] = []
    last = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[last : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


def snippet(text: str, pattern: re.Pattern[str] | None, size: int = SNIPPET_CHARS) -> Markup:
    """About ``size`` characters of ``text`` around its first match, highlighted."""
    text = " ".join(text.split())
    start = 0
    m = pattern.search(text) if pattern else None
    if m and m.start() > size // 3:
        start = text.rfind(" ", 0, m.start() - size // 4) + 1
    end = start + size
    if end < len(text):
        end = text.rfind(" ", start, end) if text.rfind(" ", start, end) > start else end
    body = highlight(text[start:end], pattern)
    return Markup(("… " if start else "") + body + (" …" if end < len(text) else ""))


def _form(request: Request) -> dict[str, str]:
    params = request.query_params
    return {
        "q": clean(params.get("q", "")),
        "cat": params.get("cat", "").strip()[:40],
        "from": params.get("from", "").strip()[:10],
        "to": params.get("to", "").strip()[:10],
        "code": "1" if params.get("code") in ("1", "on", "true") else "",
    }


def _query_text(form: dict[str, str]) -> str:
    """The box's query plus the form's filters, in the query language."""
    parts = [form["q"][:MAX_QUERY_CHARS]]
    for key in ("cat", "from", "to"):
        if form[key] and not _FILTER_VALUE.match(form[key]):
            raise QueryError(f"{key} has characters it cannot have")
    if form["cat"]:
        parts.append(f"cat:{form['cat']}")
    if form["from"] or form["to"]:
        parts.append(f"date:{form['from']}..{form['to']}")
    if form["code"]:
        parts.append("has:code")
    return " ".join(p for p in parts if p)


def _page(request: Request) -> int:
    return whole_number(request.query_params.get("page", "1"), 1, MAX_PAGE, "page")


def _url(path: str, form: dict[str, str], **extra: object) -> str:
    params = {k: v for k, v in form.items() if v}
    params.update({k: str(v) for k, v in extra.items()})
    return f"{path}?{urlencode(params)}" if params else path


@router.api_route("/search", methods=GET_HEAD)
def search_page(
    request: Request, settings: SettingsDep, db: DatabaseDep, cache: CacheDep
) -> Response:
    """A plain ``def``: the search (its embedder) and the page around it run in the thread
    pool (``web/deps.py``'s rule 3). A malformed filter is a 400 with the search page, the
    problem said above the results and the query kept in the box."""
    form = _form(request)
    page = _page(request)
    try:
        text = _query_text(form)
        parsed = parse_query(text)
    except QueryError as exc:
        empty = hybrid.SearchResult(query=parse_query(""))
        context = _context(form, settings, empty, page, text="")
        context["error"] = str(exc)
        context["unknown_categories"] = 0
        return html_response(render(request, "search.html", _with_site(context, db, cache)), 400)
    if parsed.arxiv_id and not (form["cat"] or form["from"] or form["to"] or form["code"]):
        result = hybrid.search(db, settings, parsed)
        if result.items:
            return RedirectResponse(f"/papers/{result.items[0].arxiv_id}", status_code=303)
    else:
        result = hybrid.search(db, settings, parsed, page=page, page_size=PAGE_SIZE, count=True)
    context = _context(form, settings, result, page, text)
    context["unknown_categories"] = _unknown_categories(db, parsed, result)
    return html_response(render(request, "search.html", _with_site(context, db, cache)))


def _with_site(context: dict[str, object], db: Database, cache: CacheDep) -> dict[str, object]:
    context["is_demo"] = site_is_demo(db, cache)
    return context


def _context(
    form: dict[str, str], settings: Settings, result: hybrid.SearchResult, page: int, text: str
) -> dict[str, object]:
    """What search.html shows: the hits highlighted, the pager, the feeds."""
    pattern = _pattern(result.query.words)
    typed = words_of(result.query.free_text)
    hits = [
        Hit(
            item,
            highlight(item.title, pattern),
            snippet(item.abstract or "", pattern),
            matched_authors(typed, item.authors or []),
        )
        for item in result.items
    ]
    named = next((name for hit in hits for name in hit.matched), None)
    pages = min(MAX_PAGE, result.pages)
    feeds = []
    if form["q"] or text:
        feeds = [
            _feed_link("application/rss+xml", "RSS", _url("/search.xml", form), settings, form),
            _feed_link("application/atom+xml", "Atom", _url("/search.atom", form), settings, form),
        ]
    return {
        "form": form,
        "query": form["q"],
        "result": result,
        "hits": hits,
        "rank_offset": (page - 1) * PAGE_SIZE,
        "pager": {
            "page": page,
            "pages": pages,
            "prev": _url("/search", form, page=page - 1) if page > 1 else None,
            "next": _url("/search", form, page=page + 1)
            if result.has_more and page < MAX_PAGE
            else None,
        }
        if (page > 1 or result.has_more)
        else None,
        "feeds": feeds,
        "error": None,
        "author_link": {"name": named, "href": "/authors/" + quote(named, safe="")}
        if named
        else None,
        "nav": "search",
        "period_nav": {"daily": "/", "weekly": "/", "monthly": "/"},
        "title": f"{form['q']} · Search" if form["q"] else "Search",
    }


def _unknown_categories(db: Database, parsed: ParsedQuery, result: hybrid.SearchResult) -> int:
    """For a category search that found nothing: how many papers' categories are not yet
    known (Hugging Face listings before the metadata fill), so the page says that rather
    than "no papers match". 0 otherwise."""
    if not parsed.categories or result.items:
        return 0
    with db.read() as session:
        return papers.count_unknown_categories(session)


def _feed_link(
    kind: str, label: str, href: str, settings: Settings, form: dict[str, str]
) -> dict[str, str]:
    return {
        "type": kind,
        "title": f"{settings.site_name}: new papers matching {form['q']!r} ({label})",
        "href": href,
    }


async def _search_feed(request: Request, settings: Settings, db: Database, fmt: str) -> Response:
    form = _form(request)
    try:
        text = _query_text(form)
        parse_query(text)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from exc
    items = await slow(hybrid.feed_items, db, settings, text, FEED_SIZE)
    doc = FeedDoc(
        title=f"{settings.site_name}: search “{text[:100]}”",
        description=f"Newest papers matching {text[:200]!r}.",
        page_path=_url("/search", form),
        self_path=_SELF,
        items=items,
    )
    suffix = ".xml" if fmt == "rss" else ".atom"
    body = render_rss(doc, settings) if fmt == "rss" else render_atom(doc, settings)
    # The feed's self link carries the query: /search.xml?q=…
    self_href = xml_escape(_url("/search" + suffix, form), {'"': "&quot;"})
    body = body.replace((_SELF + suffix).encode(), self_href.encode())
    return Response(body, media_type=RSS_TYPE if fmt == "rss" else ATOM_TYPE)


@router.api_route("/search.xml", methods=GET_HEAD)
async def search_rss(request: Request, settings: SettingsDep, db: DatabaseDep) -> Response:
    return await _search_feed(request, settings, db, "rss")


@router.api_route("/search.atom", methods=GET_HEAD)
async def search_atom(request: Request, settings: SettingsDep, db: DatabaseDep) -> Response:
    return await _search_feed(request, settings, db, "atom")
