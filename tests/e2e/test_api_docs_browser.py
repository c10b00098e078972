"""``/api/docs`` in a real browser with no way out: Swagger UI is served by the site itself,
runs under the site's strict Content-Security-Policy (no violation reported) and lists the
API's operations."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from paperfeed.web.auth import CSP

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Injected by the browser itself (not subject to the page's policy): records every violation.
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def test_api_docs_work_offline_under_the_strict_policy(browser: Any, server: str) -> None:
    context = browser.new_context()
    elsewhere: list[str] = []

    def offline(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:  # no network: any other host is unreachable, and noted
            elsewhere.append(url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    page.add_init_script(WATCH_CSP)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = page.goto(f"{server}/api/docs")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CSP
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = {p.strip() for p in page.locator(".opblock-summary-path").all_inner_texts()}
    assert {"/api/daily_papers", "/api/papers/search", "/api/papers/{arxiv_id}"} <= paths
    assert page.locator(".opblock").count() >= 10
    assert page.locator(".info .title").first.inner_text().startswith("paperfeed")
    assert page.evaluate("window.__violations") == []
    assert elsewhere == [] and errors == []
    context.close()
