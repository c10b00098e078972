"""Author lists and author pages in a real browser, at desktop and phone width: "+N more"
opens without JavaScript and with it, author names lead to their page, nothing overflows
sideways; the BibTeX copy button appears (JavaScript) and answers a click."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from paperfeed.store.db import Database
from tests.factories import add_entry
from tests.web.conftest import FRIDAY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MANY = [f"Author Numbered{n:03d}" for n in range(1, 41)]
LONG_NAME = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessen"
VIEWPORTS = [
    ("desktop", {"viewport": {"width": 1280, "height": 900}}),
    (
        "phone",
        {
            "viewport": {"width": 390, "height": 844},
            "is_mobile": True,
            "device_scale_factor": 2,
            "has_touch": True,
        },
    ),
]


def _seed(database: Database) -> None:
    add_entry(database, "2503.00040", FRIDAY, upvotes=99, title="A paper by forty authors",
              authors=[MANY[0], LONG_NAME, *MANY[1:]], organization="Invented Laboratory",
              published_at=dt.datetime(2025, 3, 6))  # fmt: skip
    add_entry(database, "2503.00041", FRIDAY, upvotes=1, title="An earlier paper of Numbered001",
              authors=[MANY[0]], published_at=dt.datetime(2025, 2, 1))  # fmt: skip


def _overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize(("name", "options"), VIEWPORTS)
@pytest.mark.parametrize("javascript", [True, False])
def test_more_authors_opens_and_nothing_overflows(
    browser: Any,
    server: str,
    database: Database,
    output_dir: Path,
    name: str,
    options: dict[str, Any],
    javascript: bool,
) -> None:
    _seed(database)
    context = browser.new_context(java_script_enabled=javascript, **options)
    page = context.new_page()
    for path, hidden_name in ((f"/papers/date/{FRIDAY}", "Author Numbered003"),
                              ("/papers/2503.00040", "Author Numbered020")):  # fmt: skip
        page.goto(server + path)
        card = page.locator(".author-list").first
        more = card.locator("details.more-authors")
        summary = more.locator("summary")
        assert summary.is_visible()
        assert summary.inner_text().strip().endswith("more")
        hidden = card.get_by_role("link", name=hidden_name, exact=True)
        assert not hidden.is_visible()
        assert _overflow(page) <= 0, path
        summary.click()
        assert more.evaluate("d => d.open") is True
        assert hidden.is_visible()
        assert page.url == server + path  # opening the list navigates nowhere
        assert _overflow(page) <= 0, path
        label = "day" if "date" in path else "paper"
        page.screenshot(path=str(output_dir / f"authors-{label}-{name}-js{int(javascript)}.png"))
    context.close()


@pytest.mark.parametrize(("name", "options"), VIEWPORTS)
def test_author_name_leads_to_the_author_page(
    browser: Any,
    server: str,
    database: Database,
    output_dir: Path,
    name: str,
    options: dict[str, Any],
) -> None:
    _seed(database)
    context = browser.new_context(**options)
    page = context.new_page()
    page.goto(f"{server}/papers/date/{FRIDAY}")
    page.locator("#paper-2503\\.00040 .author-list").get_by_role(
        "link", name="Author Numbered001", exact=True
    ).click()
    page.wait_for_url(f"{server}/authors/Author%20Numbered001")
    assert page.locator("h1").inner_text().strip() == "Author Numbered001"
    titles = [t.strip() for t in page.locator(".card .card-title a").all_inner_texts()]
    assert titles == ["A paper by forty authors", "An earlier paper of Numbered001"]
    assert _overflow(page) <= 0
    page.screenshot(path=str(output_dir / f"author-page-{name}.png"), full_page=True)
    page.goto(f"{server}/papers/2503.00040")
    page.get_by_role("link", name="Invented Laboratory").click()
    page.wait_for_url(f"{server}/orgs/Invented%20Laboratory")
    assert _overflow(page) <= 0
    context.close()


def test_bibtex_copy_button(browser: Any, server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/papers/2503.00002")
    button = page.locator("button[data-copy]")
    assert (
        button.is_visible() and button.inner_text() == "Copy BibTeX"
    )  # shown by app.js (hidden in the markup)
    button.click()
    page.wait_for_function(
        "() => document.querySelector('button[data-copy]').textContent !== 'Copy BibTeX'"
    )
    assert button.inner_text() in ("Copied", "Selected: press Ctrl+C")
    context.close()
    no_js = browser.new_context(java_script_enabled=False)
    page = no_js.new_page()
    page.goto(f"{server}/papers/2503.00002")
    assert not page.locator("button[data-copy]").is_visible()  # nothing that cannot work
    assert page.locator("#bibtex").inner_text().startswith("@misc{")
    no_js.close()
