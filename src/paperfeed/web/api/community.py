"""Community endpoints of the JSON API: upvotes, submissions, comments, collections.

Reads are public (private collections: their owner only). Writes need a logged-in browser
session (with its CSRF token) or ``Authorization: Bearer <token>`` with the ``write`` scope;
a ``read`` token gets 403 on writes, a revoked or unknown token 401 everywhere. Every write
checks ownership on the server: another user's comment or collection is 403 (or 404 when
they may not even see it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from paperfeed.community import collections as colls
from paperfeed.community import comments, submissions, votes
from paperfeed.community.comments import CommentView
from paperfeed.community.users import Account
from paperfeed.store.db import Database
from paperfeed.web.api.schemas import ErrorBody
from paperfeed.web.api.serialize import daily_list_bytes, iso_z
from paperfeed.web.auth import require_user, require_write, viewer
from paperfeed.web.deps import limiter

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
router = APIRouter(prefix="/api", tags=["community"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Bad request.",
        401: "Not logged in / bad token.",
        403: "Not allowed.",
        404: "Not found.",
        429: "Too many requests.",
    }
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


WRITE_ERRORS = _errors(400, 401, 403, 404, 429)
READ_ERRORS = _errors(400, 401, 404)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class VoteState(_Body):
    upvotes: int
    voted: bool


class Me(_Body):
    user: str
    isAdmin: bool


class SubmissionIn(_Body):
    arxiv: str = Field(max_length=300, description="arXiv id or arxiv.org URL.")


class SubmissionOut(_Body):
    id: str
    day: dt.date
    title: str


class SubmissionPending(_Body):
    attempt: int = Field(description="This submission's number, to poll.")
    id: str = Field(description="arXiv id.")
    day: dt.date
    status: Literal["fetching", "added", "failed"]
    message: str | None = Field(description="Why it failed, when it did.")
    poll: str = Field(description="Where to ask again: GET this path.")


class CommentIn(_Body):
    body: str = Field(min_length=1, max_length=comments.MAX_BODY, description="Markdown.")
    parentId: int | None = Field(None, ge=1, le=2**31 - 1, description="Reply to this comment.")


class CommentEdit(_Body):
    body: str = Field(min_length=1, max_length=comments.MAX_BODY)


class CommentOut(_Body):
    id: int
    author: str
    body: str
    html: str = Field(description="The body rendered and sanitised.")
    hidden: bool
    createdAt: str
    editedAt: str | None
    parentId: int | None
    replies: list[CommentOut] = []


class CollectionIn(_Body):
    name: str = Field(min_length=1, max_length=colls.MAX_NAME)
    description: str = Field("", max_length=colls.MAX_DESCRIPTION)
    public: bool = True


class CollectionPatch(_Body):
    name: str | None = Field(None, min_length=1, max_length=colls.MAX_NAME)
    description: str | None = Field(None, max_length=colls.MAX_DESCRIPTION)
    public: bool | None = None


class CollectionOut(_Body):
    id: int
    owner: str
    name: str
    description: str
    public: bool
    numPapers: int
    createdAt: str
    updatedAt: str


class CollectionPaperIn(_Body):
    paperId: str = Field(min_length=1, max_length=64, description="arXiv id.")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _comment(c: CommentView) -> dict[str, Any]:
    return {
        "id": c.id,
        "author": c.author,
        "body": c.body,
        "html": c.html,
        "hidden": c.hidden,
        "createdAt": iso_z(c.created_at),
        "editedAt": iso_z(c.edited_at),
        "parentId": c.parent_id,
        "replies": [_comment(r) for r in c.replies],
    }


def _collection(c: colls.CollectionView) -> dict[str, Any]:
    return {
        "id": c.id,
        "owner": c.owner,
        "name": c.name,
        "description": c.description,
        "public": c.is_public,
        "numPapers": c.count,
        "createdAt": iso_z(c.created_at),
        "updatedAt": iso_z(c.updated_at),
    }


@router.get("/me", response_model=Me, responses=_errors(401), summary="Who the token is")
def me(request: Request) -> dict[str, Any]:
    account = require_user(request)
    return {"user": account.username, "isAdmin": account.is_admin}


# --- votes ---------------------------------------------------------------------------------


async def _vote(request: Request, arxiv_id: str, up: bool) -> Response:
    # On the event loop, not the thread pool: the token check is one indexed read, and the
    # write itself is batched with other requests' votes by the app's VoteWriter thread.
    # The body (two fields, the VoteState schema) is written here rather than validated
    # through the response model: votes are the hottest write.
    account = require_write(request)
    writer: votes.VoteWriter = request.app.state.votes
    total, voted = await writer.set_vote(account.id, arxiv_id, up)
    body = b'{"upvotes":%d,"voted":%s}' % (total, b"true" if voted else b"false")
    return Response(body, media_type="application/json")


@router.post(
    "/papers/{arxiv_id:arxiv}/upvote",
    response_model=VoteState,
    responses=WRITE_ERRORS,
    summary="Upvote a paper",
)
async def upvote(request: Request, arxiv_id: str) -> Response:
    """One vote per user per paper; voting again changes nothing."""
    return await _vote(request, arxiv_id, True)


@router.delete(
    "/papers/{arxiv_id:arxiv}/upvote",
    response_model=VoteState,
    responses=WRITE_ERRORS,
    summary="Take an upvote back",
)
async def unvote(request: Request, arxiv_id: str) -> Response:
    return await _vote(request, arxiv_id, False)


# --- submissions ---------------------------------------------------------------------------


@router.post(
    "/submissions",
    status_code=201,
    response_model=SubmissionOut,
    responses={
        202: {"model": SubmissionPending, "description": "Being fetched from arXiv; poll it."},
        **WRITE_ERRORS,
    },
    summary="Submit a paper to today's list",
)
def submit(request: Request, body: SubmissionIn) -> Any:
    """A paper already on the site is added at once: 201 with the entry. An unknown one is
    fetched from arXiv in the background: 202 with ``status: fetching`` and the URL to poll
    (``GET /api/submissions/{attempt}``). Either counts toward the daily limit; 429 when too
    many fetches run (this user's or the site's)."""
    account = require_write(request)
    state = request.app.state
    try:
        outcome = submissions.start(state.db, state.settings, account, body.arxiv)
    except submissions.SubmissionsBusy as exc:
        raise HTTPException(429, str(exc)) from exc
    if isinstance(outcome, submissions.Pending):
        state.submission_fetcher.start(outcome)
        pending = submissions.attempt(state.db, state.settings, account.id, outcome.attempt_id)
        assert pending is not None  # just recorded, by this user
        return JSONResponse(jsonable_encoder(_attempt(pending)), status_code=202)
    state.cache.clear()
    return {"id": outcome.arxiv_id, "day": outcome.day, "title": outcome.title}


@router.get(
    "/submissions/{attempt_id:int}",
    response_model=SubmissionPending,
    responses=READ_ERRORS,
    summary="A submission of yours: fetching, added or failed (with why)",
)
def submission_status(request: Request, attempt_id: Id) -> dict[str, Any]:
    account = require_user(request)
    state = request.app.state
    found = submissions.attempt(state.db, state.settings, account.id, attempt_id)
    if found is None:
        raise HTTPException(404, "No such submission of yours.")
    return _attempt(found)


def _attempt(a: submissions.AttemptView) -> dict[str, Any]:
    return {
        "attempt": a.id,
        "id": a.arxiv_id,
        "day": a.day,
        "status": a.status,
        "message": a.message,
        "poll": f"/api/submissions/{a.id}",
    }


# --- comments ------------------------------------------------------------------------------


@router.get(
    "/papers/{arxiv_id:arxiv}/comments",
    response_model=list[CommentOut],
    responses=READ_ERRORS,
    summary="A paper's comments, with their replies",
)
def list_comments(request: Request, arxiv_id: str) -> list[dict[str, Any]]:
    account = viewer(request)
    with _db(request).read() as session:
        comments.paper_id_of(session, arxiv_id)
        thread = comments.thread(
            session, arxiv_id, include_hidden=bool(account and account.is_admin)
        )
    return [_comment(c) for c in thread]


@router.post(
    "/papers/{arxiv_id:arxiv}/comments",
    status_code=201,
    response_model=CommentOut,
    responses=WRITE_ERRORS,
    summary="Comment on a paper, or reply to a comment",
)
def add_comment(request: Request, arxiv_id: str, body: CommentIn) -> dict[str, Any]:
    account = require_write(request)
    settings = request.app.state.settings
    if not limiter(request).hit("comment", settings.rate_limit_comments, str(account.id)):
        raise HTTPException(429, "commenting too fast; wait a minute")
    made = comments.add_comment(_db(request), account, arxiv_id, body.body, body.parentId)
    return _comment(made)


@router.patch(
    "/comments/{comment_id}",
    response_model=CommentOut,
    responses=WRITE_ERRORS,
    summary="Edit your comment",
)
def edit_comment(request: Request, comment_id: Id, body: CommentEdit) -> dict[str, Any]:
    account = require_write(request)
    return _comment(comments.edit_comment(_db(request), account, comment_id, body.body))


@router.delete(
    "/comments/{comment_id}",
    status_code=204,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Delete your comment (and its replies)",
)
def delete_comment(request: Request, comment_id: Id) -> Response:
    account = require_write(request)
    comments.delete_comment(_db(request), account, comment_id)
    return Response(status_code=204)


# --- collections ---------------------------------------------------------------------------


def _visible(request: Request, collection_id: Id) -> colls.CollectionView:
    return colls.get(_db(request), collection_id, viewer(request))


@router.get(
    "/users/{username}/collections",
    response_model=list[CollectionOut],
    responses=READ_ERRORS,
    summary="A user's collections (public ones; all of them for their owner)",
)
def user_collections(request: Request, username: str) -> list[dict[str, Any]]:
    account: Account | None = viewer(request)
    own = account is not None and account.username == username
    return [_collection(c) for c in colls.for_user(_db(request), username, include_private=own)]


@router.get(
    "/collections/{collection_id}",
    response_model=CollectionOut,
    responses=READ_ERRORS,
    summary="A collection",
)
def get_collection(request: Request, collection_id: Id) -> dict[str, Any]:
    return _collection(_visible(request, collection_id))


@router.get(
    "/collections/{collection_id}/papers",
    responses=READ_ERRORS,
    summary="A collection's papers, as daily items (newest added first)",
)
def collection_papers(request: Request, collection_id: Id) -> Response:
    _visible(request, collection_id)
    items = colls.items(_db(request), collection_id)
    return Response(daily_list_bytes(items), media_type="application/json")


@router.post(
    "/collections",
    status_code=201,
    response_model=CollectionOut,
    responses=WRITE_ERRORS,
    summary="Create a collection",
)
def create_collection(request: Request, body: CollectionIn) -> dict[str, Any]:
    account = require_write(request)
    made = colls.create(_db(request), account, body.name, body.description, body.public)
    return _collection(made)


@router.patch(
    "/collections/{collection_id}",
    response_model=CollectionOut,
    responses=WRITE_ERRORS,
    summary="Rename, describe, publish or hide your collection",
)
def patch_collection(request: Request, collection_id: Id, body: CollectionPatch) -> dict[str, Any]:
    account = require_write(request)
    colls.update(
        _db(request),
        account,
        collection_id,
        name=body.name,
        description=body.description,
        is_public=body.public,
    )
    return _collection(colls.get(_db(request), collection_id, account))


@router.delete(
    "/collections/{collection_id}",
    status_code=204,
    response_class=Response,
    responses=WRITE_ERRORS,
    summary="Delete your collection",
)
def delete_collection(request: Request, collection_id: Id) -> Response:
    account = require_write(request)
    colls.remove(_db(request), account, collection_id)
    return Response(status_code=204)


@router.post(
    "/collections/{collection_id}/papers",
    response_model=CollectionOut,
    responses=WRITE_ERRORS,
    summary="Add a paper to your collection",
)
def add_to_collection(
    request: Request, collection_id: Id, body: CollectionPaperIn
) -> dict[str, Any]:
    account = require_write(request)
    colls.add_paper(_db(request), account, collection_id, body.paperId)
    return _collection(colls.get(_db(request), collection_id, account))


@router.delete(
    "/collections/{collection_id}/papers/{arxiv_id:arxiv}",
    response_model=CollectionOut,
    responses=WRITE_ERRORS,
    summary="Remove a paper from your collection",
)
def remove_from_collection(request: Request, collection_id: Id, arxiv_id: str) -> dict[str, Any]:
    account = require_write(request)
    colls.remove_paper(_db(request), account, collection_id, arxiv_id)
    return _collection(colls.get(_db(request), collection_id, account))
