"""Community pages: upvote forms, comments, submissions, claims, profiles, collections (with
Atom/RSS feeds) and the admin page. Every POST here passed the CSRF check of
``SecurityMiddleware``; every change is checked for ownership in ``paperfeed.community``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import Response

from paperfeed import papers
from paperfeed.community import (
    CommunityError,
    claims,
    comments,
    http_status,
    submissions,
    users,
    votes,
)
from paperfeed.community import collections as colls
from paperfeed.community.users import Account
from paperfeed.params import is_whole_number, optional_id, parse_day
from paperfeed.web.auth import require_admin, require_user, viewer
from paperfeed.web.deps import client_ip, limiter
from paperfeed.web.pages.account import page, redirect, safe_next
from paperfeed.web.pages.render import html_response, render

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=20_000)]
PROFILE_SUBMISSIONS = 100  # a profile lists at most this many of the user's submissions


def _fail(exc: CommunityError) -> HTTPException:
    return HTTPException(http_status(exc), str(exc))


# --- votes ---------------------------------------------------------------------------------


@router.post("/papers/{arxiv_id:arxiv}/upvote")
def upvote_form(request: Request, arxiv_id: str, action: Text = "add", next: Text = "") -> Response:
    account = require_user(request)
    try:
        total, voted = votes.set_vote(
            request.app.state.db, account.id, arxiv_id, action != "remove"
        )
    except CommunityError as exc:
        raise _fail(exc) from exc
    if "application/json" in request.headers.get("accept", ""):
        import orjson

        return Response(
            orjson.dumps({"upvotes": total, "voted": voted}), media_type="application/json"
        )
    return redirect(safe_next(next or f"/papers/{arxiv_id}"))


# --- comments ------------------------------------------------------------------------------


@router.post("/papers/{arxiv_id:arxiv}/comments")
def comment_form(
    request: Request, arxiv_id: str, body: Text = "", parent_id: Text = ""
) -> Response:
    account = require_user(request)
    settings = request.app.state.settings
    if not limiter(request).hit("comment", settings.rate_limit_comments, str(account.id)):
        raise HTTPException(429, "You are commenting too fast; wait a minute.")
    parent = optional_id(parent_id, "parent_id")
    try:
        made = comments.add_comment(request.app.state.db, account, arxiv_id, body, parent)
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect(f"/papers/{arxiv_id}#comment-{made.id}")


def _comment_or_404(request: Request, comment_id: Id) -> tuple[comments.CommentView, str]:
    found = comments.get_comment(request.app.state.db, comment_id)
    if found is None:
        raise HTTPException(404, "No such comment.")
    return found


@router.get("/comments/{comment_id:int}/edit")
def comment_edit_form(request: Request, comment_id: Id) -> Response:
    account = require_user(request)
    comment, arxiv_id = _comment_or_404(request, comment_id)
    if comment.author != account.username:
        raise HTTPException(403, "Only its author can edit this comment.")
    return page(request, "comment_edit.html", comment=comment, arxiv_id=arxiv_id, error=None)


@router.post("/comments/{comment_id:int}/edit")
def comment_edit(request: Request, comment_id: Id, body: Text = "") -> Response:
    account = require_user(request)
    _, arxiv_id = _comment_or_404(request, comment_id)
    try:
        comments.edit_comment(request.app.state.db, account, comment_id, body)
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect(f"/papers/{arxiv_id}#comment-{comment_id}")


@router.post("/comments/{comment_id:int}/delete")
def comment_delete(request: Request, comment_id: Id) -> Response:
    account = require_user(request)
    _, arxiv_id = _comment_or_404(request, comment_id)
    try:
        comments.delete_comment(request.app.state.db, account, comment_id)
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect(f"/papers/{arxiv_id}#comments-h")


@router.post("/comments/{comment_id:int}/hide")
def comment_hide(request: Request, comment_id: Id, hidden: Text = "1") -> Response:
    admin = require_admin(request)
    _, arxiv_id = _comment_or_404(request, comment_id)
    try:
        comments.set_hidden(request.app.state.db, admin, comment_id, hidden != "0")
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect(f"/papers/{arxiv_id}#comment-{comment_id}")


# --- submissions and claims ----------------------------------------------------------------


def _submit_page(request: Request, status: int = 200, **context: Any) -> Response:
    settings = request.app.state.settings
    account = require_user(request)
    context.setdefault("value", "")
    context.setdefault("error", None)
    context.setdefault("notice", None)
    return page(
        request,
        "submit.html",
        status,
        window=settings.submission_window_days,
        limit=settings.submission_daily_limit,
        attempts=submissions.attempts(
            request.app.state.db, settings, account.id, users.utc_today()
        ),
        **context,
    )


@router.get("/submit")
def submit_form(request: Request) -> Response:
    require_user(request)
    return _submit_page(request)


@router.post("/submit")
def submit(request: Request, arxiv: Text = "") -> Response:
    """A known paper is added and the day's list shown; an unknown one is fetched from arXiv
    in the background (never on this request) and this page says so."""
    account = require_user(request)
    state = request.app.state
    try:
        outcome = submissions.start(state.db, state.settings, account, arxiv)
    except CommunityError as exc:
        status = 429 if isinstance(exc, submissions.SubmissionsBusy) else 400
        return _submit_page(request, status, value=arxiv[:200], error=str(exc))
    if isinstance(outcome, submissions.Pending):
        state.submission_fetcher.start(outcome)
        notice = (
            f"Fetching {outcome.arxiv_id} from arXiv; it will appear on today's list when "
            "found. Its progress is listed below."
        )
        return _submit_page(request, notice=notice)
    state.cache.clear()  # the day page and lists change now, not in cache_seconds
    return redirect(f"/papers/date/{outcome.day.isoformat()}")


@router.post("/papers/{arxiv_id:arxiv}/claim")
def claim(request: Request, arxiv_id: str, author_name: Text = "") -> Response:
    account = require_user(request)
    settings = request.app.state.settings
    if not limiter(request).hit("claim", settings.rate_limit_claims, str(account.id)):
        raise HTTPException(429, "You are claiming papers too fast; try again later.")
    try:
        claims.claim(request.app.state.db, account, arxiv_id, author_name)
    except CommunityError as exc:
        raise _fail(exc) from exc
    return _submit_page(request, notice=f"Your claim on {arxiv_id} waits for an admin's approval.")


# --- profiles ------------------------------------------------------------------------------


@router.get("/u/{username}")
def profile(request: Request, username: str) -> Response:
    db = request.app.state.db
    account = users.get_account(db, username)
    if account is None:
        raise HTTPException(404, "No such user.")
    me = viewer(request)
    authored_ids = [c.arxiv_id for c in claims.claims(db, status="approved", user_id=account.id)]
    with db.read() as session:
        authored = papers.items_of(session, authored_ids)
        submitted_ids = papers.submitted_ids(session, account.username, PROFILE_SUBMISSIONS)
        submitted = papers.items_of(session, submitted_ids)
    include_private = me is not None and me.id == account.id
    return page(
        request,
        "profile.html",
        profile=account,
        authored=authored,
        submitted=submitted,
        collections=colls.for_user(db, account.username, include_private=include_private),
    )


# --- collections ---------------------------------------------------------------------------


def _checkbox(value: str) -> bool:
    return value in ("1", "on", "true", "yes")


@router.post("/collections")
def collection_create(
    request: Request, name: Text = "", description: Text = "", public: Text = ""
) -> Response:
    account = require_user(request)
    try:
        made = colls.create(request.app.state.db, account, name, description, _checkbox(public))
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect(f"/collections/{made.id}")


def _collection(request: Request, collection_id: Id) -> tuple[colls.CollectionView, Account | None]:
    me = viewer(request)
    try:
        return colls.get(request.app.state.db, collection_id, me), me
    except CommunityError as exc:
        raise _fail(exc) from exc


@router.get("/collections/{collection_id:int}")
def collection_page(request: Request, collection_id: Id) -> Response:
    collection, me = _collection(request, collection_id)
    items = colls.items(request.app.state.db, collection_id)
    return page(
        request,
        "collection.html",
        collection=collection,
        items=items,
        owner=me is not None and me.username == collection.owner,
    )


@router.get("/collections/{collection_id:int}.atom")
@router.get("/collections/{collection_id:int}.xml")
def collection_feed(request: Request, collection_id: Id) -> Response:
    from paperfeed.web.feeds import ATOM_TYPE, RSS_TYPE, FeedDoc, render_atom, render_rss

    collection, _ = _collection(request, collection_id)
    if not collection.is_public:
        raise HTTPException(404, "No such collection.")
    settings = request.app.state.settings
    items = colls.items(request.app.state.db, collection_id)
    doc = FeedDoc(
        title=f"{settings.site_name}: {collection.name} (collection by {collection.owner})",
        description=collection.description or f"Papers collected by {collection.owner}.",
        page_path=f"/collections/{collection_id}",
        self_path=f"/collections/{collection_id}",
        items=items,
    )
    if request.url.path.endswith(".atom"):
        return Response(render_atom(doc, settings), media_type=ATOM_TYPE)
    return Response(render_rss(doc, settings), media_type=RSS_TYPE)


@router.post("/collections/{collection_id:int}/edit")
def collection_edit(
    request: Request, collection_id: Id, name: Text = "", description: Text = "", public: Text = ""
) -> Response:
    account = require_user(request)
    try:
        colls.update(
            request.app.state.db,
            account,
            collection_id,
            name=name,
            description=description,
            is_public=_checkbox(public),
        )
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect(f"/collections/{collection_id}")


@router.post("/collections/{collection_id:int}/delete")
def collection_delete(request: Request, collection_id: Id) -> Response:
    account = require_user(request)
    try:
        colls.remove(request.app.state.db, account, collection_id)
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect("/account")


@router.post("/collections/add")
def collection_add(request: Request, collection_id: Text = "", arxiv_id: Text = "") -> Response:
    account = require_user(request)
    if optional_id(collection_id, "collection_id") is None:
        raise HTTPException(400, "Choose a collection.")
    try:
        colls.add_paper(request.app.state.db, account, int(collection_id), arxiv_id)
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect(f"/collections/{collection_id}")


# --- admin ---------------------------------------------------------------------------------


ADMIN_PAGE_SIZE = 50  # pending claims listed per /admin page
MAX_ADMIN_PAGE = 100_000


def _admin_page(request: Request, status: int = 200, number: int = 1, **context: Any) -> Response:
    require_admin(request)
    db = request.app.state.db
    context.setdefault("error", None)
    context.setdefault("notice", None)
    pending = claims.count(db, status="pending")
    return page(
        request,
        "admin.html",
        status,
        claims=claims.claims(
            db,
            status="pending",
            limit=ADMIN_PAGE_SIZE,
            offset=(number - 1) * ADMIN_PAGE_SIZE,
        ),
        pending=pending,
        page_number=number,
        pages=max(1, -(-pending // ADMIN_PAGE_SIZE)),
        today=users.utc_today().isoformat(),
        **context,
    )


def _page_number(raw: str) -> int | None:
    """``?page=N`` in the shared grammar (ASCII digits, 1 to MAX_ADMIN_PAGE), else None."""
    return int(raw) if is_whole_number(raw, 1, MAX_ADMIN_PAGE) else None


@router.get("/admin")
def admin_page(request: Request) -> Response:
    require_admin(request)
    number = _page_number(request.query_params.get("page", "1"))
    if number is None:
        error = f"The page is a whole number from 1 to {MAX_ADMIN_PAGE}."
        return _admin_page(request, 400, error=error)
    return _admin_page(request, number=number)


@router.post("/admin/entries")
def admin_entries(
    request: Request, arxiv_id: Text = "", day: Text = "", action: Text = "feature"
) -> Response:
    admin = require_admin(request)
    db = request.app.state.db
    try:
        when = parse_day(day)
    except ValueError:
        return _admin_page(request, 400, error="The day is YYYY-MM-DD.")
    try:
        if action == "remove":
            submissions.remove_entry(db, arxiv_id.strip(), when)
        else:
            submissions.feature(db, arxiv_id.strip(), when, by=admin.username)
    except CommunityError as exc:
        return _admin_page(request, 400, error=str(exc))
    request.app.state.cache.clear()
    return _admin_page(request, notice=f"{action}: {arxiv_id.strip()} on {when}.")


@router.post("/admin/claims/{claim_id:int}")
def admin_claim(request: Request, claim_id: Id, decision: Text = "") -> Response:
    admin = require_admin(request)
    try:
        claims.decide(request.app.state.db, admin, claim_id, decision == "approve")
    except CommunityError as exc:
        raise _fail(exc) from exc
    return redirect("/admin")


@router.post("/admin/users")
def admin_users(request: Request, username: Text = "", action: Text = "ban") -> Response:
    admin = require_admin(request)
    if username.strip().lower() == admin.username:
        return _admin_page(request, 400, error="You cannot ban yourself.")
    try:
        users.set_banned(request.app.state.db, username, action == "ban")
    except CommunityError as exc:
        return _admin_page(request, 400, error=str(exc))
    return _admin_page(request, notice=f"{action}: {username.strip()}.")


__all__ = ["client_ip", "html_response", "render", "router"]
