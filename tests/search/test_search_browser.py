"""The search page in real headless Chromium: the header box, highlighted results, filters,
and a phone-width layout without sideways overflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paperfeed.config import Settings
from tests.e2e.conftest import browser, output_dir, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def server_settings(settings: Settings) -> Settings:
    # Keyword search only: the page must work (and say so) without the embedder.
    return settings.model_copy(update={"embedding_backend": "off"})


def test_header_search_box_to_highlighted_results(browser: Any, server: str) -> None:  # noqa: F811
    page = browser.new_page()
    page.goto(server)
    page.fill("#header-q", "lanterns maps")
    page.press("#header-q", "Enter")
    page.wait_for_url(f"{server}/search?q=lanterns+maps")
    assert page.locator("#search-q").input_value() == "lanterns maps"  # the query stays
    first = page.locator(".card .card-title a").first
    assert "Lanterns" in first.inner_text()
    assert page.locator(".card .card-title mark").first.inner_text().lower() == "lanterns"
    assert "keyword matches only" in page.locator(".notice").inner_text()
    first.click()
    page.wait_for_url(f"{server}/papers/**")
    page.close()


def test_filters_and_phone_layout(
    browser: Any,  # noqa: F811
    server: str,  # noqa: F811
    output_dir: Path,  # noqa: F811
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{server}/search?q=gradient")
    page.locator(".search-filters summary").click()
    page.check("input[name=code]")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**code=1**")
    assert page.locator("input[name=code]").is_checked()
    out = output_dir / "search-phone.png"
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 5_000
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    context.close()
