"""Error pages."""

from __future__ import annotations

import html

from fastapi import Request
from fastapi.responses import HTMLResponse, Response


def error_page(request: Request, status: int, detail: str) -> Response:
    body = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{html.escape(detail)}</p>"
    return HTMLResponse(body, status_code=status)
