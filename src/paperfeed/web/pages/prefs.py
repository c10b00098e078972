"""Per-browser display preferences, kept in a cookie (no account needed).

Routes
    ``/view/{mode}?next=PATH``   ``mode`` is ``cards`` or ``compact``: remember the list view
                                 (``render.VIEW_COOKIE``) and go back to ``next`` (a local path).

A plain GET link, so the switch works without JavaScript and on a cached anonymous page (which
carries no CSRF token); it changes nothing but this browser's own view, like a language
switch. With JavaScript, app.js sets the same cookie and switches the list in place.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from paperfeed.web.deps import SettingsDep
from paperfeed.web.pages.account import redirect, safe_next
from paperfeed.web.pages.render import LIST_VIEWS, VIEW_COOKIE

router = APIRouter(include_in_schema=False)
VIEW_COOKIE_SECONDS = 365 * 24 * 3600


@router.get("/view/{mode}")
def set_view(request: Request, settings: SettingsDep, mode: str) -> Response:
    if mode not in LIST_VIEWS:
        raise HTTPException(404, "No such view: choose cards or compact.")
    response = redirect(safe_next(request.query_params.get("next")))
    response.set_cookie(
        VIEW_COOKIE,
        mode,
        max_age=VIEW_COOKIE_SECONDS,
        path="/",
        samesite="lax",
        secure=settings.cookie_secure,
        httponly=False,  # app.js writes the same cookie when it switches in place
    )
    response.headers["Cache-Control"] = "no-store"
    return response
