"""The search page in a real browser (issues 16 and 17): a query that names an author shows
that author on the card even past the first ones and links their page; a malformed filter is
said inline with the query kept; nothing overflows sideways at phone width. Screenshots,
light and dark, under test-output/e2e/search/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paperfeed.store.db import Database
from tests.factories import add_paper

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
NAMED = "2504.30001"


@pytest.fixture
def named_paper(database: Database) -> str:
    authors = [f"Coauthor Number{i}" for i in range(1, 9)]
    authors.insert(5, "Kaiming Hé")  # sixth of nine, behind "et al." on a card
    add_paper(
        database,
        NAMED,
        title="Residual Kettles for Deep Streams",
        abstract="Kettles with residual spouts pour deep streams of tea.",
        authors=authors,
    )
    return NAMED


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_author_query_and_malformed_filter(
    browser: Any, server: str, named_paper: str, output_dir: Path, device: str, scheme: str
) -> None:
    shots = output_dir / "search"
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(color_scheme=scheme, **(PHONE if device == "phone" else DESKTOP))
    page = context.new_page()
    try:
        page.goto(f"{server}/search?q=kaiming+he+kettles")
        card = page.locator(f'li.card:has(a[href="/papers/{named_paper}"])')
        assert card.count() == 1
        assert card.locator("mark.matched-author").inner_text() == "Kaiming Hé"
        link = page.locator("p.author-suggestion a")
        assert link.inner_text() == "Papers by Kaiming Hé →"
        assert link.get_attribute("href") == "/authors/Kaiming%20H%C3%A9"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(shots / f"author-{device}-{scheme}.png"), full_page=False)

        response = page.goto(f"{server}/search?q=kettles+year%3Asoon")
        assert response is not None and response.status == 400
        assert page.locator("#search-q").input_value() == "kettles year:soon"
        assert "year must be YYYY" in page.locator("p.search-error").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(shots / f"error-{device}-{scheme}.png"), full_page=False)
    finally:
        context.close()
