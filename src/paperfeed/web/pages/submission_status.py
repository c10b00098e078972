"""The page of one submission, ``/submit/{attempt_id}``: where ``POST /submit`` sends the
browser (Post/Redirect/Get, so a reload never submits twice).

- added (a paper the site had, at once; or an arXiv fetch that finished): a confirmation
  with a link to the paper on today's list;
- fetching (the arXiv fetch is queued in the background, ``community/submissions.py``): says
  so, and the page reloads itself every ``REFRESH_SECONDS`` (a ``<meta http-equiv=refresh>``,
  no JavaScript) until the fetch is done or failed;
- failed: why, and the way back to the form.

The submit page lists the day's submissions with the same outcomes, for a user who left.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from paperfeed.community import submissions
from paperfeed.web.deps import MemberDep
from paperfeed.web.pages.account import page

REFRESH_SECONDS = 3
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
router = APIRouter(include_in_schema=False)


@router.get("/submit/{attempt_id:int}")
def submission_page(me: MemberDep, attempt_id: Id) -> Response:
    found = submissions.attempt(me.db, me.settings, me.account.id, attempt_id)
    if found is None:
        raise HTTPException(404, "No such submission of yours.")
    fetching = found.status == submissions.FETCHING
    return page(
        me.request,
        "submit_status.html",
        attempt=found,
        refresh=REFRESH_SECONDS if fetching else None,
    )
