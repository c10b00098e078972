"""Layout in a real browser (issue 17): every page at phone width for a visitor, a user and
an admin (nothing overflows sideways, the sticky header at most 64 px), the header in one row
at 1280 px, the phone menu without JavaScript, the compact list view (with and without
JavaScript, remembered), "Add to collection" in place, and screenshots of it all, light and
dark, under test-output/e2e/layout/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import update

from paperfeed.community import collections, comments, users
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from paperfeed.web.access import ACCESS
from tests.e2e.conftest import DESKTOP, PHONE, settings_from_env
from tests.web.conftest import FRIDAY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "a long test password"
LONG_URL = "https://example.org/" + "a-very-long-pasted-path-segment/" * 12 + "?q=" + "x" * 200
SUMMARY = "A short machine-written summary of the lantern paper."
# Not pages: data, feeds, files, FastAPI's own, and the view switch (a redirect).
NOT_PAGES = re.compile(r"^/(api|feeds|static|openapi|docs|view)\b|\.(xml|atom|md|bib)$")


@pytest.fixture
def server_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Cheap Argon2 and generous limits: the settings the ``server`` fixture builds with."""
    with settings_from_env(monkeypatch, RATE_LIMIT_COMMENTS="1000/minute") as served:
        yield served


@pytest.fixture
def site(server: str, database: Database, server_settings: Settings) -> dict[str, str]:
    """The seeded site with a user (a collection, a comment) and an admin; the values that
    fill the page routes' path parameters."""
    ann = users.create_user(
        database, server_settings, "ann", "ann@example.org", PASSWORD, verified=True
    )
    users.create_user(
        database,
        server_settings,
        "boss",
        "boss@example.org",
        PASSWORD,
        is_admin=True,
        verified=True,
    )
    made = collections.create(database, ann, "Reading list", "To read")
    comment = comments.add_comment(database, ann, "2503.00002", "A fine paper.")
    with database.write() as session:
        session.execute(
            update(Paper).where(Paper.arxiv_id == "2503.00002").values(ai_summary=SUMMARY)
        )
    return {
        "day": str(FRIDAY),
        "week": "2025-W10",
        "month": "2025-03",
        "arxiv_id": "2503.00002",
        "username": "ann",
        "collection_id": str(made.id),
        "comment_id": str(comment.id),
        "name": "Ann One",
    }


def page_paths(params: dict[str, str]) -> list[str]:
    """Every GET page route of the access table, its parameters filled in (an unknown one
    with a placeholder: the error page it gives must fit too)."""
    paths = [p for (method, p) in ACCESS if method == "GET" and not NOT_PAGES.search(p)]
    filled = [re.sub(r"\{(\w+)\}", lambda m: params.get(m.group(1), "x"), p) for p in paths]
    return [*filled, "/search?q=" + quote(LONG_URL), "/papers/trending?page=1"]


def log_in(context: Any, server: str, name: str) -> None:
    page = context.new_page()
    page.goto(f"{server}/login")
    page.fill("#login", name)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/")
    page.close()


def fits(page: Any) -> dict[str, float]:
    return dict(
        page.evaluate(
            """() => ({
              overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
              header: document.querySelector('.site-header').getBoundingClientRect().height,
            })"""
        )
    )


@pytest.mark.parametrize("role", ["visitor", "ann", "boss"])
def test_every_page_fits_a_phone(
    browser: Any, server: str, site: dict[str, str], role: str
) -> None:
    context = browser.new_context(**PHONE)
    if role != "visitor":
        log_in(context, server, role)
    page = context.new_page()
    bad = {}
    for path in page_paths(site):
        page.goto(server + path)
        got = fits(page)
        if got["overflow"] > 0 or got["header"] > 64:
            bad[path] = got
    # A long URL pasted into the header's search box.
    page.goto(f"{server}/papers/date/{FRIDAY}")
    page.fill("#header-q", LONG_URL)
    got = fits(page)
    if got["overflow"] > 0:
        bad["pasted URL"] = got
    assert bad == {}
    context.close()


HEADER_ROW = """() => {
  const header = document.querySelector('.site-header').getBoundingClientRect();
  const parts = ['.brand', '.header-search', '.tabs', '.account-nav'].map(
    (s) => document.querySelector(s).getBoundingClientRect());
  const tabs = document.querySelector('.tabs');
  return {
    height: header.height,
    inside: parts.every((r) => r.width > 0 && r.top >= header.top && r.bottom <= header.bottom),
    middles: parts.map((r) => Math.round(r.top + r.height / 2)),
    clipped: tabs.scrollWidth > tabs.clientWidth,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  };
}"""


@pytest.mark.parametrize("role", ["visitor", "ann", "boss"])
def test_header_is_one_row_on_a_desktop(
    browser: Any, server: str, site: dict[str, str], role: str
) -> None:
    context = browser.new_context(**DESKTOP)
    if role != "visitor":
        log_in(context, server, role)
    page = context.new_page()
    # 1280 px, and just above where the phone menu takes over (style.css: 900 px).
    for width in (1280, 920):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ["/", f"/papers/{site['arxiv_id']}", "/search?q=lanterns", "/account"]:
            page.goto(server + path)
            row = page.evaluate(HEADER_ROW)
            assert row["height"] <= 64 and row["inside"], (width, path, row)
            assert max(row["middles"]) - min(row["middles"]) <= 6, (width, path, row)
            assert not row["clipped"] and row["overflow"] <= 0, (width, path, row)
    page.set_viewport_size(DESKTOP["viewport"])
    if role != "visitor":  # the account menu opens and lists the account's pages
        page.locator(".user-button").click()
        assert page.get_by_role("link", name="Account").is_visible()
        assert page.get_by_role("link", name="Admin").count() == (role == "boss")
        page.keyboard.press("Escape")
        assert not page.get_by_role("link", name="Account").is_visible()
    context.close()


def test_phone_menu_opens_without_javascript(
    browser: Any, server: str, site: dict[str, str]
) -> None:
    context = browser.new_context(java_script_enabled=False, **PHONE)
    log_in(context, server, "ann")
    page = context.new_page()
    page.goto(f"{server}/papers/date/{FRIDAY}")
    weekly = page.get_by_role("link", name="Weekly")
    assert not weekly.is_visible()
    page.locator(".menu-button").click()
    assert weekly.is_visible() and page.get_by_role("link", name="Digest").is_visible()
    assert fits(page)["overflow"] <= 0
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{server}/")
    assert page.locator(".menu-panel a[href='/login']").count() == 1  # logged out
    context.close()


def _row_heights(page: Any) -> list[float]:
    return list(page.eval_on_selector_all(".cards .card", "els => els.map(e => e.offsetHeight)"))


@pytest.mark.parametrize("javascript", [True, False])
def test_compact_view_is_switched_and_remembered(
    browser: Any, server: str, site: dict[str, str], javascript: bool
) -> None:
    context = browser.new_context(java_script_enabled=javascript, **DESKTOP)
    page = context.new_page()
    day = f"{server}/papers/date/{FRIDAY}"
    page.goto(day)
    card = page.locator(".card", has_text="Lanterns")
    assert card.locator(".ai-summary").inner_text().endswith(SUMMARY)  # not the abstract
    tall = _row_heights(page)
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    page.get_by_role("link", name="Compact").click()
    page.locator("ol.cards.compact").wait_for()
    assert page.url == day
    assert bool(navigations) != javascript  # in place with JavaScript, a redirect without
    rows = _row_heights(page)
    assert max(rows) <= 72 < min(tall), (rows, tall)  # two lines at most
    assert not card.locator(".abstract").is_visible()
    assert card.locator(".pill", has_text="Code").is_visible()
    page.reload()  # remembered (the cookie), also by a cached anonymous page
    assert page.locator("ol.cards.compact").count() == 1
    page.goto(f"{server}/papers/trending")
    assert page.locator("ol.cards.compact").count() == 1
    page.get_by_role("link", name="Cards").click()
    page.wait_for_function("!document.querySelector('ol.cards.compact')")
    page.goto(day)
    assert page.locator("ol.cards.compact").count() == 0
    context.close()


def test_add_to_collection_in_place(browser: Any, server: str, site: dict[str, str]) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 500})
    log_in(context, server, "ann")
    page = context.new_page()
    page.goto(f"{server}/papers/{site['arxiv_id']}")
    form = page.locator("form[data-collect]")
    form.scroll_into_view_if_needed()
    page.evaluate(
        "document.addEventListener('submit', () => { window.scrollAtAdd = window.scrollY }, true)"
    )
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    form.get_by_role("button", name="Add").click()
    page.get_by_role("status").get_by_role("link", name="Reading list").wait_for()
    assert navigations == []
    scrolled = page.evaluate("window.scrollAtAdd")
    assert scrolled > 0 and page.evaluate("window.scrollY") == scrolled
    assert [p.removeprefix(server) for p in posts] == ["/collections/add"]
    page.goto(f"{server}/collections/{site['collection_id']}")
    assert "Lanterns" in page.locator(".cards").inner_text()
    context.close()


def test_add_to_collection_without_javascript_returns_to_the_paper(
    browser: Any, server: str, site: dict[str, str]
) -> None:
    context = browser.new_context(java_script_enabled=False)
    log_in(context, server, "ann")
    page = context.new_page()
    paper = f"{server}/papers/{site['arxiv_id']}"
    page.goto(paper)
    page.locator("form[data-collect]").get_by_role("button", name="Add").click()
    page.wait_for_url(f"{paper}?added={site['collection_id']}#yours")
    assert page.get_by_role("status").inner_text() == "Added to Reading list."
    context.close()


SHOTS = {
    "day": f"/papers/date/{FRIDAY}",
    "paper": "/papers/2503.00002",
    "search": "/search?q=lanterns",
    "subscribe": "/subscribe",
    "digest-prefs": "/account/digest",
    "account": "/account",
}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_layout_screenshots(
    browser: Any, server: str, site: dict[str, str], output_dir: Path, size: str, scheme: str
) -> None:
    out = output_dir / "layout"
    out.mkdir(exist_ok=True)
    context = browser.new_context(color_scheme=scheme, **(DESKTOP if size == "desktop" else PHONE))
    log_in(context, server, "boss")
    page = context.new_page()
    for label, path in SHOTS.items():
        page.goto(server + path)
        page.screenshot(path=str(out / f"{label}-{size}-{scheme}.png"), full_page=True)
    # The compact list, and the open menu.
    page.goto(f"{server}/view/compact?next={SHOTS['day']}")
    page.screenshot(path=str(out / f"day-compact-{size}-{scheme}.png"))
    if size == "phone":
        page.locator(".menu-button").click()
        page.screenshot(path=str(out / f"menu-{size}-{scheme}.png"))
    else:
        page.locator(".user-button").click()
        page.screenshot(path=str(out / f"user-menu-{size}-{scheme}.png"))
    assert len(list(out.glob(f"*-{size}-{scheme}.png"))) == len(SHOTS) + 2
    context.close()
