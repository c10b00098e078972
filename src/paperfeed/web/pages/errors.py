"""Error pages (400, 404, 500, ...) in the site layout.

``web/errors.py`` calls :func:`error_page` for every HTTP error outside ``/api`` (where
``web/deps.py``'s rule puts a short read: it may look the viewer up). It never fails: when
the templates themselves cannot render, it falls back to a minimal page.
"""

from __future__ import annotations

import html
import logging

from fastapi import Request
from fastapi.responses import Response

from paperfeed.web.deps import cache_of, database_of
from paperfeed.web.pages.render import html_response, render, site_is_demo

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Page not found",
    405: "Method not allowed",
    500: "Something went wrong",
    503: "Service unavailable",
}

HINTS = {
    400: "The address is not in a form this site understands.",
    404: "There is no page at this address. The paper may not be on this site yet.",
    500: "The server hit an error while building this page. Try again in a moment.",
}


def error_page(request: Request, status: int, detail: str) -> Response:
    title = TITLES.get(status, "Error")
    if detail in ("Not Found", title):
        detail = ""
    headers = {"Cache-Control": "no-store"}
    try:
        is_demo = False
        if status < 500:
            try:
                is_demo = site_is_demo(database_of(request), cache_of(request))
            except Exception:  # the database may be what failed; the page must still render
                is_demo = False
        body = render(
            request,
            "error.html",
            {
                "status": status,
                "error_title": title,
                "detail": detail,
                "hint": HINTS.get(status, ""),
                "is_demo": is_demo,
                "nav": "",
                "period_nav": {"daily": "/", "weekly": "/", "monthly": "/"},
            },
        )
    except Exception:
        log.exception("error page failed to render")
        body = (
            f"<!doctype html><meta charset=utf-8><title>{status} {html.escape(title)}</title>"
            f"<h1>{status} {html.escape(title)}</h1><p>{html.escape(detail)}</p>"
            '<p><a href="/">Home</a></p>'
        ).encode()
    response = html_response(body, status)
    response.headers.update(headers)
    return response
