"""``/api/docs``: the API's browser (Swagger UI), served from this site alone.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script: a
blank page offline, every visitor's request sent to a third party, and a looser
Content-Security-Policy for that page. Here the Swagger UI files come from the installed
``fastapi-offline`` package (``/api/docs/assets/``), the page's one script of ours is a static
file (``/static/api-docs.js``, which reads the schema's URL from a data attribute), and the
page has the same strict policy as every other (``web/auth.py``).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
ASSETS_PATH = "/api/docs/assets"
# The Swagger UI bundle and stylesheet the package ships (its own folder, beside its code).
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

router = APIRouter()


@router.get(DOCS_PATH, include_in_schema=False)
def api_docs(request: Request) -> HTMLResponse:
    root = escape(request.scope.get("root_path", ""))
    title = escape(f"{request.app.title} API")
    openapi = escape(f"{request.scope.get('root_path', '')}{request.app.openapi_url}")
    return HTMLResponse(
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        f'<link rel="icon" href="{root}/static/favicon.svg" type="image/svg+xml">'
        f'<link rel="stylesheet" href="{root}{ASSETS_PATH}/swagger-ui.css">'
        f'<script src="{root}{ASSETS_PATH}/swagger-ui-bundle.js" defer></script>'
        f'<script src="{root}/static/api-docs.js" defer></script>'
        "</head><body>"
        f'<div id="swagger-ui" data-openapi="{openapi}">'
        "<noscript>The API browser needs JavaScript; the schema itself is at "
        f'<a href="{openapi}">{openapi}</a>.</noscript></div>'
        "</body></html>"
    )


def install_api_docs(app: FastAPI) -> None:
    """The docs page and its assets (the app is made with ``docs_url=None``)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")
    app.include_router(router)
