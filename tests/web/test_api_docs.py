"""``/api/docs`` without a CDN: its page names only this site's files, which are served, and
it has the site's strict Content-Security-Policy (the browser test runs it:
tests/e2e/test_api_docs_browser.py)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from paperfeed.web.auth import CSP


def test_docs_page_and_its_assets_come_from_the_site(
    settings: Settings, database: Database
) -> None:
    client = TestClient(create_app(settings, database))
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from another host
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-security-policy"] == CSP
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text[:2000]
    assert 'data-openapi="/openapi.json"' in page.text
    assert client.get("/docs/oauth2-redirect").status_code == 404  # FastAPI's page is gone
