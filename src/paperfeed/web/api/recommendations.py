"""The personal feed over the JSON API: ``GET /api/recommendations`` (a session or a token of
either scope) and ``POST|DELETE /api/papers/{id}/not-interested`` (a session or a ``write``
token). What is ranked, how, and why is ``paperfeed.recommend``'s business; here the query
is read with the grammar of ``params.py`` and the answer written as orjson bytes.

Where it runs (web/deps.py's rule 3): a read may train a reader's first model and records the
papers it returns as shown, so it writes, and runs in the thread pool like the writes below.
Answers are private: ``Cache-Control: private, no-store``, and never in the page cache."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from paperfeed.params import BadValue, parse_day, whole_number
from paperfeed.recommend import service, signals
from paperfeed.web.api.community import WRITE_ERRORS
from paperfeed.web.api.schemas import ErrorBody, NotInterested, RecommendedPaper
from paperfeed.web.api.serialize import paper_object
from paperfeed.web.deps import DatabaseDep, SettingsDep, UserDep, WriterDep, slow

router = APIRouter(prefix="/api", tags=["for you"])

DEFAULT_DAYS = 7  # from defaults to the 7 days that end on `to` (both included)
MAX_DAYS = 1000
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
PRIVATE = {"Cache-Control": "private, no-store"}
METHOD_HEADER = "X-Recommendation-Method"
JSON = "application/json"

READ_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad from, to or limit."},
    401: {"model": ErrorBody, "description": "Not logged in / bad token."},
}


def today() -> dt.date:
    """Today in UTC, arXiv's calendar here (a test may move it)."""
    return dt.datetime.now(dt.UTC).date()


def parse_query(
    start: str | None, end: str | None, limit: str | None
) -> tuple[dt.date, dt.date, int]:
    """``from``, ``to`` and ``limit`` of the query, defaults filled in (an empty value counts
    as absent); :class:`BadValue` (a 400) for anything else the route refuses."""
    last = parse_day(end) if end else today()
    first = parse_day(start) if start else last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadValue(f"from ({first}) is after to ({last})")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadValue(f"from..to spans more than {MAX_DAYS:,} days")
    count = whole_number(limit, 1, MAX_LIMIT, "limit") if limit else DEFAULT_LIMIT
    return first, last, count


def _body(found: service.Recommendations) -> bytes:
    return orjson.dumps(
        [
            paper_object(r.item, with_comments=True) | {"score": r.score, "reason": r.reason}
            for r in found.items
        ]
    )


@router.get(
    "/recommendations",
    summary="Your recommendations (For you), best first",
    response_model=list[RecommendedPaper],
    responses={
        200: {
            "description": "Best first.",
            "headers": {
                METHOD_HEADER: {
                    "description": "How they were ranked: linear, nearest, follows or trending.",
                    "schema": {"type": "string"},
                },
            },
        },
        **READ_ERRORS,
    },
)
async def recommendations(
    settings: SettingsDep,
    db: DatabaseDep,
    account: UserDep,
    start: Annotated[
        str | None,
        Query(alias="from", max_length=40, description="First day, YYYY-MM-DD (included)."),
    ] = None,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=40,
            description="Last day, YYYY-MM-DD (included); default today (UTC).",
        ),
    ] = None,
    limit: Annotated[
        str | None,
        Query(
            max_length=40,
            description=f"Most papers returned, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
        ),
    ] = None,
) -> Response:
    """Papers first published on arXiv from ``from`` to ``to`` (both included; default the
    last 7 days, ending today in UTC), ranked for the caller, best first, as a bare JSON array
    of paper objects (those of ``/api/papers/{id}``) each with ``score`` (comparable only
    within one answer's method) and ``reason`` (why it is there, for a person). Papers the
    caller upvoted, saved, claimed, named as seeds or marked not interested never appear.
    The papers returned are recorded as shown: those not acted on count, a day later, as
    mild negatives. A bad date, ``from`` after ``to``, more than 1,000 days, or a ``limit``
    that is not a whole number from 1 to 200 is a 400 with a JSON ``error``."""
    first, last, count = parse_query(start, end, limit)
    found = await slow(
        service.recommend, db, settings, account.id, start=first, end=last, limit=count
    )
    headers = PRIVATE | {METHOD_HEADER: found.method}
    return Response(_body(found), media_type=JSON, headers=headers)


def _marked(arxiv_id: str, on: bool) -> Response:
    body = orjson.dumps({"id": arxiv_id, "notInterested": on})
    return Response(body, media_type=JSON, headers=PRIVATE)


MARK = "/papers/{arxiv_id:arxiv}/not-interested"
MARK_DOC: dict[str, Any] = {"response_model": NotInterested, "responses": WRITE_ERRORS}


@router.post(MARK, summary="Not interested: never recommend it, learn from it", **MARK_DOC)
def not_interested(db: DatabaseDep, account: WriterDep, arxiv_id: str) -> Response:
    """Marking it again changes nothing; 404 when the paper is not on this site."""
    signals.dismiss(db, account.id, arxiv_id)
    return _marked(arxiv_id, True)


@router.delete(MARK, summary='Undo "not interested"', **MARK_DOC)
def undo_not_interested(db: DatabaseDep, account: WriterDep, arxiv_id: str) -> Response:
    signals.undismiss(db, account.id, arxiv_id)
    return _marked(arxiv_id, False)
