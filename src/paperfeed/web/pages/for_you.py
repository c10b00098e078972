"""The reader's personal feed page and its forms; "not interested" on cards and paper pages.

Routes (each needs a browser session: ``web/access.py``)
    ``GET /for-you?tab=today|week``     the reader's papers, best first (``recommend.service``),
                                        each card with its reason and "Not interested";
                                        ``q``: a search whose hits get an "Add" button;
                                        ``dismissed``: the paper just dismissed without
                                        JavaScript, offered for undo.
    ``POST /for-you/seeds``             seed papers pasted (``text``: ids, URLs, BibTeX)
    ``POST /for-you/upload``            seed papers from a ``.bib`` file (multipart ``bib``)
    ``POST /for-you/follows``           the categories and authors the reader follows
    ``POST /papers/{id}/not-interested`` (``/undo``)  dismiss a paper, or undo it; JSON
                                        for the page's script (in place), else back to
                                        ``next`` at the card (``#paper-ID``).

"Today" is the latest two days of first publication on arXiv that this site holds (the
latest day L and L−1: one arXiv announcement spans two submission days), "this week" L−6 to
L. L is the newest publication day of the papers with an embedding (in memory already), or,
on a site without embeddings, of all papers. A reader with no positive signal and no follows
gets the onboarding forms above the trending papers; the others find them folded below the
heading. The page is never cached (``Cache-Control: no-store``; it is rendered for its
reader only, ``page`` in ``account.py``) and its forms answer inline with what was added and
what was not understood, the input kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, File, Form, HTTPException, UploadFile
from fastapi.responses import Response

from paperfeed import papers
from paperfeed.papers import FeedItem
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.recommend import RecommendError, signals
from paperfeed.recommend.gather import gather
from paperfeed.recommend.prefs import prefs_view
from paperfeed.recommend.seeds import MAX_SEED_TEXT, decode_upload, parse_seed_text
from paperfeed.recommend.service import latest_day, recommend
from paperfeed.recommend.train import skip_before
from paperfeed.search import hybrid
from paperfeed.search.query import MAX_QUERY_CHARS, QueryError, clean
from paperfeed.web.deps import Member, MemberDep, slow
from paperfeed.web.pages.account import page, redirect, safe_next

router = APIRouter(include_in_schema=False)
TABS = {"today": 1, "week": 6}  # days before the latest publication day
SHOWN = 50  # cards on the page
SEARCH_HITS = 10  # search results offered to add
Text = Annotated[str, Form(max_length=100_000)]  # the request guard's longest form value


@dataclass(slots=True)
class Report:
    """What a seeding form did: papers seeded, ids not on this site, pieces not understood."""

    added: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def method_line(method: str, count: int) -> str:
    """Which method ranks the page, as the reader reads it."""
    if method == "linear":
        return f"Ranked by a model learned from your {count} signal{'s' if count != 1 else ''}"
    if method == "nearest":
        return "Ranked by closeness to the papers you named"
    if method == "follows":
        return "From the categories and authors you follow"
    return "Trending — tell us what you like"


def _latest_day(me: Member) -> dt.date:
    return latest_day(me.db, me.settings) or dt.datetime.now(dt.UTC).date()


def _tab(raw: str) -> str:
    if raw not in TABS:
        raise HTTPException(400, "The tab is today or week.")
    return raw


def _search(me: Member, q: str) -> tuple[list[FeedItem], str | None]:
    """The hits of the page's search box (none for no query), or the problem with it."""
    text = clean(q)[:MAX_QUERY_CHARS]
    if not text:
        return [], None
    try:
        return hybrid.search(me.db, me.settings, text, page_size=SEARCH_HITS).items, None
    except QueryError as exc:
        return [], str(exc)


def _undo_item(me: Member, raw: str) -> FeedItem | None:
    """The paper named by ``?dismissed=``, when the reader has it dismissed (else none)."""
    try:
        arxiv_id = parse_arxiv_id(raw)[0] if raw else ""
    except ValueError:
        return None
    with me.db.read() as session:
        if not signals.dismissed_ids(session, me.account.id, [arxiv_id]):
            return None
        found = papers.items_of(session, [arxiv_id])
    return found[0] if found else None


def render_page(me: Member, status: int = 200, **context: Any) -> Response:
    """The page for ``?tab``, ``?q`` and ``?dismissed`` (or what ``context`` sets)."""
    query = me.request.query_params
    tab = _tab(context.pop("tab", None) or query.get("tab", "today"))
    q = query.get("q", "")[:MAX_QUERY_CHARS]
    latest = _latest_day(me)
    start = latest - dt.timedelta(days=TABS[tab])
    with me.db.read() as session:
        mine = gather(session, me.account.id, skip_before=skip_before(me.settings))
        follows = prefs_view(session, me.account.id)
    found = recommend(me.db, me.settings, me.account.id, start=start, end=latest, limit=SHOWN)
    hits, search_error = _search(me, q)
    context.setdefault("report", None)
    context.setdefault("text", "")
    context.setdefault("error", None)
    context.setdefault("notice", None)
    return page(
        me.request,
        "for_you.html",
        status,
        tab=tab,
        q=q,
        start=start,
        latest=latest,
        items=[r.item for r in found.items],
        reasons={r.item.arxiv_id: r.reason for r in found.items},
        method=found.method,
        method_line=method_line(found.method, len(mine.positives) + len(mine.negatives)),
        onboarding=not mine.positives and not mine.prefs.follows,
        follows=follows,
        hits=hits,
        search_error=search_error,
        undo_item=_undo_item(me, query.get("dismissed", "")),
        dismiss_next=f"/for-you?tab={tab}&dismissed=",
        nav="for-you",
        title="For you",
        **context,
    )


@router.get("/for-you")
def for_you(me: MemberDep) -> Response:
    """A plain ``def``: a first visit trains the reader's model (rule 3: the thread pool)."""
    return render_page(me)


def _seed(me: Member, text: str, report: Report) -> Report:
    ids, bad = parse_seed_text(text)
    report.bad += bad
    if ids:
        added, missing = signals.add_seeds(me.db, me.account.id, ids)
        report.added += added
        report.missing += missing
    return report


def _seed_answer(me: Member, text: str, report: Report, tab: str) -> Response:
    try:
        _seed(me, text, report)
    except RecommendError as exc:
        return render_page(me, 400, tab=tab, text=text, error=str(exc))
    if not (report.added or report.missing or report.bad):
        return render_page(me, 400, tab=tab, text=text, error="No arXiv id or URL found there.")
    return render_page(me, tab=tab, text=text, report=report)


@router.post("/for-you/seeds")
def seeds_form(me: MemberDep, text: Text = "", tab: Text = "today") -> Response:
    return _seed_answer(me, text, Report(), _tab(tab))


@router.post("/for-you/upload")
async def upload_form(
    me: MemberDep,
    bib: Annotated[UploadFile | None, File()] = None,
    tab: Text = "today",
) -> Response:
    """A ``.bib`` (or any text) file: read here, decoded and parsed in the thread pool
    (a megabyte takes a few tenths of a second)."""
    data = await bib.read(MAX_SEED_TEXT + 1) if bib is not None else b""
    if not data:
        return await slow(render_page, me, 400, tab=_tab(tab), error="Choose a .bib file.")

    def answer() -> Response:
        try:
            text = decode_upload(data)
        except RecommendError as exc:
            return render_page(me, 400, tab=_tab(tab), error=str(exc))
        return _seed_answer(me, text, Report(), _tab(tab))

    return await slow(answer)


@router.post("/for-you/follows")
def follows_form(
    me: MemberDep, categories: Text = "", authors: Text = "", tab: Text = "today"
) -> Response:
    try:
        cats, names = signals.set_follows(
            me.db, me.account.id, *signals.follows_from_text(categories, authors)
        )
    except RecommendError as exc:
        return render_page(me, 400, tab=_tab(tab), error=str(exc))
    notice = f"You follow {len(cats)} categories and {len(names)} authors."
    return render_page(me, tab=_tab(tab), notice=notice)


# --- not interested ----------------------------------------------------------------------


def _dismissed_answer(me: Member, arxiv_id: str, dismissed: bool, next: str) -> Response:
    if "application/json" in me.request.headers.get("accept", ""):
        # The page's script marks the card in place (app.js), as it does votes.
        return Response(orjson.dumps({"dismissed": dismissed}), media_type="application/json")
    target = safe_next(next) if next else f"/papers/{arxiv_id}"
    return redirect(target if "#" in target else f"{target}#paper-{arxiv_id}")


@router.post("/papers/{arxiv_id:arxiv}/not-interested")
def not_interested(me: MemberDep, arxiv_id: str, next: Text = "") -> Response:
    signals.dismiss(me.db, me.account.id, arxiv_id)
    return _dismissed_answer(me, arxiv_id, True, next)


@router.post("/papers/{arxiv_id:arxiv}/not-interested/undo")
def not_interested_undo(me: MemberDep, arxiv_id: str, next: Text = "") -> Response:
    signals.undismiss(me.db, me.account.id, arxiv_id)
    return _dismissed_answer(me, arxiv_id, False, next)
