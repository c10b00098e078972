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

from fastapi import APIRouter, HTTPException, Path
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from paperfeed.community import collections as colls
from paperfeed.community import comments, submissions
from paperfeed.community.comments import CommentView
from paperfeed.web.api.schemas import ErrorBody
from paperfeed.web.api.serialize import daily_list_bytes, iso_z
from paperfeed.web.deps import (
    CacheDep,
    DatabaseDep,
    FetcherDep,
    LimiterDep,
    SettingsDep,
    UserDep,
    ViewerDep,
    VotesDep,
    WriterDep,
)

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
DELETED: dict[str, Any] = {
    "status_code": 204,
    "response_class": Response,
    "responses": WRITE_ERRORS,
}


def _read(model: Any = None) -> dict[str, Any]:
    """A read route's decorator arguments: its answer's model (when it has one), its errors."""
    return {"responses": READ_ERRORS} | ({"response_model": model} if model else {})


def _write(model: Any, status: int | None = None) -> dict[str, Any]:
    """A write route's decorator arguments: its answer's model and status (when not 200)."""
    return {"response_model": model, "responses": WRITE_ERRORS} | (
        {"status_code": status} if status else {}
    )


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
async def me(account: UserDep) -> dict[str, Any]:
    return {"user": account.username, "isAdmin": account.is_admin}


# --- votes ---------------------------------------------------------------------------------


async def _vote(writer: VotesDep, account: WriterDep, arxiv_id: str, up: bool) -> Response:
    # On the event loop: the caller was looked up by access.enforce (where web/deps.py's rule
    # puts it), and the write itself is batched with other requests' votes by the app's
    # VoteWriter thread. The body (two fields, the VoteState schema) is written here rather
    # than validated through the response model: votes are the hottest write.
    total, voted = await writer.set_vote(account.id, arxiv_id, up)
    body = b'{"upvotes":%d,"voted":%s}' % (total, b"true" if voted else b"false")
    return Response(body, media_type="application/json")


@router.post("/papers/{arxiv_id:arxiv}/upvote", summary="Upvote a paper", **_write(VoteState))
async def upvote(writer: VotesDep, account: WriterDep, arxiv_id: str) -> Response:
    """One vote per user per paper; voting again changes nothing."""
    return await _vote(writer, account, arxiv_id, True)


@router.delete(
    "/papers/{arxiv_id:arxiv}/upvote", summary="Take an upvote back", **_write(VoteState)
)
async def unvote(writer: VotesDep, account: WriterDep, arxiv_id: str) -> Response:
    return await _vote(writer, account, arxiv_id, False)


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
def submit(
    settings: SettingsDep,
    db: DatabaseDep,
    cache: CacheDep,
    fetcher: FetcherDep,
    account: WriterDep,
    body: SubmissionIn,
) -> Any:
    """A paper already on the site is added at once: 201 with the entry. An unknown one is
    fetched from arXiv in the background: 202 with ``status: fetching`` and the URL to poll
    (``GET /api/submissions/{attempt}``). Either counts toward the daily limit; 429 when too
    many fetches run (this user's or the site's)."""
    try:
        outcome = submissions.start(db, settings, account, body.arxiv)
    except submissions.SubmissionsBusy as exc:
        raise HTTPException(429, str(exc)) from exc
    if isinstance(outcome, submissions.Pending):
        fetcher.start(outcome)
        pending = submissions.attempt(db, settings, account.id, outcome.attempt_id)
        assert pending is not None  # just recorded, by this user
        return JSONResponse(jsonable_encoder(_attempt(pending)), status_code=202)
    cache.clear()
    return {"id": outcome.arxiv_id, "day": outcome.day, "title": outcome.title}


@router.get(
    "/submissions/{attempt_id:int}",
    summary="A submission of yours: fetching, added or failed (with why)",
    **_read(SubmissionPending),
)
def submission_status(
    settings: SettingsDep, db: DatabaseDep, account: UserDep, attempt_id: Id
) -> dict[str, Any]:
    found = submissions.attempt(db, settings, account.id, attempt_id)
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
    summary="A paper's comments, with their replies",
    **_read(list[CommentOut]),
)
def list_comments(db: DatabaseDep, account: ViewerDep, arxiv_id: str) -> list[dict[str, Any]]:
    with db.read() as session:
        comments.paper_id_of(session, arxiv_id)
        thread = comments.thread(
            session, arxiv_id, include_hidden=bool(account and account.is_admin)
        )
    return [_comment(c) for c in thread]


@router.post(
    "/papers/{arxiv_id:arxiv}/comments",
    summary="Comment on a paper, or reply to a comment",
    **_write(CommentOut, 201),
)
def add_comment(
    settings: SettingsDep,
    db: DatabaseDep,
    limiter: LimiterDep,
    account: WriterDep,
    arxiv_id: str,
    body: CommentIn,
) -> dict[str, Any]:
    if not limiter.hit("comment", settings.rate_limit_comments, str(account.id)):
        raise HTTPException(429, "commenting too fast; wait a minute")
    made = comments.add_comment(db, account, arxiv_id, body.body, body.parentId)
    return _comment(made)


@router.patch("/comments/{comment_id}", summary="Edit your comment", **_write(CommentOut))
def edit_comment(
    db: DatabaseDep, account: WriterDep, comment_id: Id, body: CommentEdit
) -> dict[str, Any]:
    return _comment(comments.edit_comment(db, account, comment_id, body.body))


@router.delete("/comments/{comment_id}", summary="Delete your comment (and its replies)", **DELETED)
def delete_comment(db: DatabaseDep, account: WriterDep, comment_id: Id) -> Response:
    comments.delete_comment(db, account, comment_id)
    return Response(status_code=204)


# --- collections ---------------------------------------------------------------------------


@router.get(
    "/users/{username}/collections",
    summary="A user's collections (public ones; all of them for their owner)",
    **_read(list[CollectionOut]),
)
def user_collections(db: DatabaseDep, account: ViewerDep, username: str) -> list[dict[str, Any]]:
    own = account is not None and account.username == username
    return [_collection(c) for c in colls.for_user(db, username, include_private=own)]


@router.get("/collections/{collection_id}", summary="A collection", **_read(CollectionOut))
def get_collection(db: DatabaseDep, account: ViewerDep, collection_id: Id) -> dict[str, Any]:
    return _collection(colls.get(db, collection_id, account))


@router.get(
    "/collections/{collection_id}/papers",
    summary="A collection's papers, as daily items (newest added first)",
    **_read(),
)
def collection_papers(db: DatabaseDep, account: ViewerDep, collection_id: Id) -> Response:
    colls.get(db, collection_id, account)  # refused unless this caller may see it
    items = colls.items(db, collection_id)
    return Response(daily_list_bytes(items), media_type="application/json")


@router.post("/collections", summary="Create a collection", **_write(CollectionOut, 201))
def create_collection(db: DatabaseDep, account: WriterDep, body: CollectionIn) -> dict[str, Any]:
    made = colls.create(db, account, body.name, body.description, body.public)
    return _collection(made)


@router.patch(
    "/collections/{collection_id}",
    summary="Rename, describe, publish or hide your collection",
    **_write(CollectionOut),
)
def patch_collection(
    db: DatabaseDep, account: WriterDep, collection_id: Id, body: CollectionPatch
) -> dict[str, Any]:
    colls.update(
        db,
        account,
        collection_id,
        name=body.name,
        description=body.description,
        is_public=body.public,
    )
    return _collection(colls.get(db, collection_id, account))


@router.delete("/collections/{collection_id}", summary="Delete your collection", **DELETED)
def delete_collection(db: DatabaseDep, account: WriterDep, collection_id: Id) -> Response:
    colls.remove(db, account, collection_id)
    return Response(status_code=204)


@router.post(
    "/collections/{collection_id}/papers",
    summary="Add a paper to your collection",
    **_write(CollectionOut),
)
def add_to_collection(
    db: DatabaseDep, account: WriterDep, collection_id: Id, body: CollectionPaperIn
) -> dict[str, Any]:
    colls.add_paper(db, account, collection_id, body.paperId)
    return _collection(colls.get(db, collection_id, account))


@router.delete(
    "/collections/{collection_id}/papers/{arxiv_id:arxiv}",
    summary="Remove a paper from your collection",
    **_write(CollectionOut),
)
def remove_from_collection(
    db: DatabaseDep, account: WriterDep, collection_id: Id, arxiv_id: str
) -> dict[str, Any]:
    colls.remove_paper(db, account, collection_id, arxiv_id)
    return _collection(colls.get(db, collection_id, account))
