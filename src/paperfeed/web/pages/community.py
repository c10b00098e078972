"""Community pages: upvote forms, comments, submissions, claims, profiles, collections (with
Atom/RSS feeds) and the admin page. Every POST here passed the CSRF check of
``SecurityMiddleware``; every change is checked for ownership in ``paperfeed.community``."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed import papers
from paperfeed.community import (
    CommunityError,
    claims,
    comments,
    submissions,
    users,
    votes,
)
from paperfeed.community import collections as colls
from paperfeed.community.users import Account
from paperfeed.params import is_whole_number, optional_id, parse_day
from paperfeed.store.db import Database
from paperfeed.web.deps import (
    AdminDep,
    AdminMemberDep,
    CacheDep,
    ContextDep,
    DatabaseDep,
    FetcherDep,
    LimiterDep,
    Member,
    MemberDep,
    UserDep,
    ViewerDep,
    client_ip,
    settings_of,
)
from paperfeed.web.feeds import ATOM_TYPE, RSS_TYPE, FeedDoc, render_atom, render_rss
from paperfeed.web.pages.account import page, redirect, safe_next
from paperfeed.web.pages.admin import nav as admin_nav
from paperfeed.web.pages.render import html_response, render

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=20_000)]
PROFILE_SUBMISSIONS = 100  # a profile lists at most this many of the user's submissions


# A CommunityError a route lets through is answered by web/errors.py's handler: its
# http_status and message, as the error page.


# --- votes ---------------------------------------------------------------------------------


@router.post("/papers/{arxiv_id:arxiv}/upvote")
def upvote_form(me: MemberDep, arxiv_id: str, action: Text = "add", next: Text = "") -> Response:
    total, voted = votes.set_vote(me.db, me.account.id, arxiv_id, action != "remove")
    if "application/json" in me.request.headers.get("accept", ""):
        return Response(
            orjson.dumps({"upvotes": total, "voted": voted}), media_type="application/json"
        )
    if not next:
        return redirect(f"/papers/{arxiv_id}")
    # Back to the card that was voted on, not the top of the list (without JavaScript).
    target = safe_next(next)
    return redirect(target if "#" in target else f"{target}#paper-{arxiv_id}")


# --- comments ------------------------------------------------------------------------------


@router.post("/papers/{arxiv_id:arxiv}/comments")
def comment_form(
    me: MemberDep, limiter: LimiterDep, arxiv_id: str, body: Text = "", parent_id: Text = ""
) -> Response:
    if not limiter.hit("comment", me.settings.rate_limit_comments, str(me.account.id)):
        raise HTTPException(429, "You are commenting too fast; wait a minute.")
    parent = optional_id(parent_id, "parent_id")
    made = comments.add_comment(me.db, me.account, arxiv_id, body, parent)
    return redirect(f"/papers/{arxiv_id}#comment-{made.id}")


def _comment_or_404(db: Database, comment_id: Id) -> tuple[comments.CommentView, str]:
    found = comments.get_comment(db, comment_id)
    if found is None:
        raise HTTPException(404, "No such comment.")
    return found


@router.get("/comments/{comment_id:int}/edit")
def comment_edit_form(
    request: Request, db: DatabaseDep, account: UserDep, comment_id: Id
) -> Response:
    comment, arxiv_id = _comment_or_404(db, comment_id)
    if comment.author != account.username:
        raise HTTPException(403, "Only its author can edit this comment.")
    return page(request, "comment_edit.html", comment=comment, arxiv_id=arxiv_id, error=None)


@router.post("/comments/{comment_id:int}/edit")
def comment_edit(db: DatabaseDep, account: UserDep, comment_id: Id, body: Text = "") -> Response:
    _, arxiv_id = _comment_or_404(db, comment_id)
    comments.edit_comment(db, account, comment_id, body)
    return redirect(f"/papers/{arxiv_id}#comment-{comment_id}")


@router.post("/comments/{comment_id:int}/delete")
def comment_delete(db: DatabaseDep, account: UserDep, comment_id: Id) -> Response:
    _, arxiv_id = _comment_or_404(db, comment_id)
    comments.delete_comment(db, account, comment_id)
    return redirect(f"/papers/{arxiv_id}#comments-h")


@router.post("/comments/{comment_id:int}/hide")
def comment_hide(db: DatabaseDep, admin: AdminDep, comment_id: Id, hidden: Text = "1") -> Response:
    _, arxiv_id = _comment_or_404(db, comment_id)
    comments.set_hidden(db, admin, comment_id, hidden != "0")
    return redirect(f"/papers/{arxiv_id}#comment-{comment_id}")


# --- submissions and claims ----------------------------------------------------------------


def _submit_page(me: Member, status: int = 200, **context: Any) -> Response:
    context.setdefault("value", "")
    context.setdefault("error", None)
    context.setdefault("notice", None)
    settings = me.settings
    return page(
        me.request,
        "submit.html",
        status,
        window=settings.submission_window_days,
        limit=settings.submission_daily_limit,
        attempts=submissions.attempts(me.db, settings, me.account.id, users.utc_today()),
        **context,
    )


@router.get("/submit")
def submit_form(me: MemberDep) -> Response:
    return _submit_page(me)


@router.post("/submit")
def submit(me: MemberDep, cache: CacheDep, fetcher: FetcherDep, arxiv: Text = "") -> Response:
    """A known paper is added at once; an unknown one is fetched from arXiv in the
    background (never on this request). Either way the answer is the submission's own page
    (``web/pages/submission_status.py``): a confirmation, or the queued fetch's progress."""
    try:
        outcome = submissions.start(me.db, me.settings, me.account, arxiv)
    except CommunityError as exc:
        status = 429 if isinstance(exc, submissions.SubmissionsBusy) else 400
        return _submit_page(me, status, value=arxiv[:200], error=str(exc))
    if isinstance(outcome, submissions.Pending):
        fetcher.start(outcome)
    else:
        cache.clear()  # the day page and lists change now, not in cache_seconds
    return redirect(f"/submit/{outcome.attempt_id}")


@router.post("/papers/{arxiv_id:arxiv}/claim")
def claim(me: MemberDep, limiter: LimiterDep, arxiv_id: str, author_name: Text = "") -> Response:
    """Back to the paper (303), where the claim shows as waiting for an admin."""
    if not limiter.hit("claim", me.settings.rate_limit_claims, str(me.account.id)):
        raise HTTPException(429, "You are claiming papers too fast; try again later.")
    claims.claim(me.db, me.account, arxiv_id, author_name)
    return redirect(f"/papers/{arxiv_id}#claim")


# --- profiles ------------------------------------------------------------------------------


@router.get("/u/{username}")
def profile(request: Request, db: DatabaseDep, me: ViewerDep, username: str) -> Response:
    account = users.get_account(db, username)
    if account is None:
        raise HTTPException(404, "No such user.")
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
    me: MemberDep, name: Text = "", description: Text = "", public: Text = ""
) -> Response:
    made = colls.create(me.db, me.account, name, description, _checkbox(public))
    return redirect(f"/collections/{made.id}")


def _collection(db: Database, collection_id: Id, me: Account | None) -> colls.CollectionView:
    return colls.get(db, collection_id, me)


@router.get("/collections/{collection_id:int}")
def collection_page(
    request: Request, db: DatabaseDep, me: ViewerDep, collection_id: Id
) -> Response:
    collection = _collection(db, collection_id, me)
    items = colls.items(db, collection_id)
    return page(
        request,
        "collection.html",
        collection=collection,
        items=items,
        owner=me is not None and me.username == collection.owner,
    )


@router.get("/collections/{collection_id:int}.atom")
@router.get("/collections/{collection_id:int}.xml")
def collection_feed(ctx: ContextDep, me: ViewerDep, collection_id: Id) -> Response:
    request, settings, db = ctx.request, ctx.settings, ctx.db
    collection = _collection(db, collection_id, me)
    if not collection.is_public:
        raise HTTPException(404, "No such collection.")
    items = colls.items(db, collection_id)
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
    me: MemberDep, collection_id: Id, name: Text = "", description: Text = "", public: Text = ""
) -> Response:
    colls.update(
        me.db,
        me.account,
        collection_id,
        name=name,
        description=description,
        is_public=_checkbox(public),
    )
    return redirect(f"/collections/{collection_id}")


@router.post("/collections/{collection_id:int}/delete")
def collection_delete(db: DatabaseDep, account: UserDep, collection_id: Id) -> Response:
    colls.remove(db, account, collection_id)
    return redirect("/account")


@router.post("/collections/add")
def collection_add(me: MemberDep, collection_id: Text = "", arxiv_id: Text = "") -> Response:
    cid = optional_id(collection_id, "collection_id")
    if cid is None:
        raise HTTPException(400, "Choose a collection.")
    colls.add_paper(me.db, me.account, cid, arxiv_id)
    if "application/json" in me.request.headers.get("accept", ""):
        # The page's script adds in place (app.js): no navigation, the reader's place kept.
        return Response(
            orjson.dumps({"added": True, "collection_id": cid}), media_type="application/json"
        )
    # Without JavaScript: back to the paper, its "Yours" section saying where it went.
    return redirect(f"/papers/{arxiv_id}?added={cid}#yours")


# --- admin ---------------------------------------------------------------------------------


ADMIN_PAGE_SIZE = 50  # pending claims listed per /admin page
MAX_ADMIN_PAGE = 100_000


def _admin_page(
    request: Request, db: Database, status: int = 200, number: int = 1, **context: Any
) -> Response:
    context.setdefault("error", None)
    context.setdefault("notice", None)
    context.setdefault("admin_nav", admin_nav(db, settings_of(request)))
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
def admin_page(request: Request, db: DatabaseDep, admin: AdminDep) -> Response:
    number = _page_number(request.query_params.get("page", "1"))
    if number is None:
        error = f"The page is a whole number from 1 to {MAX_ADMIN_PAGE}."
        return _admin_page(request, db, 400, error=error)
    return _admin_page(request, db, number=number)


class EntryForm(BaseModel):
    """The admin's form that features a paper on a day's list (or removes it from it)."""

    arxiv_id: str = Field("", max_length=20_000)
    day: str = Field("", max_length=20_000)
    action: str = Field("feature", max_length=20_000)


@router.post("/admin/entries")
def admin_entries(
    me: AdminMemberDep, cache: CacheDep, form: Annotated[EntryForm, Form()]
) -> Response:
    request, db, admin = me.request, me.db, me.account
    arxiv_id, day, action = form.arxiv_id, form.day, form.action
    try:
        when = parse_day(day)
    except ValueError:
        return _admin_page(request, db, 400, error="The day is YYYY-MM-DD.")
    try:
        if action == "remove":
            submissions.remove_entry(db, arxiv_id.strip(), when)
        else:
            submissions.feature(db, arxiv_id.strip(), when, by=admin.username)
    except CommunityError as exc:
        return _admin_page(request, db, 400, error=str(exc))
    cache.clear()
    return _admin_page(request, db, notice=f"{action}: {arxiv_id.strip()} on {when}.")


@router.post("/admin/claims/{claim_id:int}")
def admin_claim(
    db: DatabaseDep, cache: CacheDep, admin: AdminDep, claim_id: Id, decision: Text = ""
) -> Response:
    claims.decide(db, admin, claim_id, decision == "approve")
    cache.clear()  # the verified author's mark shows now, not in cache_seconds
    return redirect("/admin")


@router.post("/admin/users")
def admin_users(
    request: Request, db: DatabaseDep, admin: AdminDep, username: Text = "", action: Text = "ban"
) -> Response:
    if username.strip().lower() == admin.username:
        return _admin_page(request, db, 400, error="You cannot ban yourself.")
    try:
        users.set_banned(db, username, action == "ban")
    except CommunityError as exc:
        return _admin_page(request, db, 400, error=str(exc))
    return _admin_page(request, db, notice=f"{action}: {username.strip()}.")


__all__ = ["client_ip", "html_response", "render", "router"]
