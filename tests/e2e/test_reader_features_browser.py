"""Issue 17's points in a real browser, each in the four looks it must hold in: desktop
1280x900 and phone 390x844, light and dark. Each test visits its feature's page, asserts what
the reader sees (not only that it answers), that nothing scrolls sideways, and writes a
screenshot to test-output/e2e/features/{feature}-{device}-{scheme}.png.

The seeded site is tests/web/conftest.py's, with test_layout_browser's users (ann, the admin
boss), plus: media on a card, a 402-author paper of an organization whose name has a slash,
a paper whose categories are not yet known, and an approved authorship claim.

Point of issue 17 -> test here (all four looks); other browser tests of it
  1 vote in place / no-JS to #paper-ID  test_vote_and_collect_in_place, test_without_javascript_*
  1 add to collection in place         test_vote_and_collect_in_place; test_layout_browser (no JS)
  2 compact view, AI summary, media    test_cards_compact_view_summary_media
  2 '+N more', author and org pages    test_authors_collapsed_and_name_pages; test_authors_browser
  2 header one row / phone menu        test_header_and_menu; test_layout_browser (3 roles, no JS)
  2 no overflow at 390 px              every test here; test_layout_browser (every page, 3 roles)
  3 author ranking, suggestion, counts test_search_page; test_search_browser
  3 inline filter error, cats unknown  test_search_page
  4 honest comment counts              test_paper_page
  4 outbox, no-relay notes             test_forms_mail_note_and_admin; test_outbox_browser
  5 /api/docs offline                  test_future_day_and_api_docs; test_api_docs_browser (CSP)
  6 submission status page             test_submission_browser (four looks)
  6 claims, verified author            test_paper_page
  6 form styles, admin lists           test_forms_mail_note_and_admin
  6 future date redirect               test_future_day_and_api_docs
  6 OpenGraph, BibTeX copy             test_paper_page; test_authors_browser (copy answers a click)
  digest mail                          test_digest_screenshot (four looks)
Not browser-visible, tested elsewhere: BASE_URL from host and port (tests/test_config.py),
demo corpus and both indexes (tests/test_demo.py), progress lines (tests/test_progress.py),
model warm-up (tests/search/test_warm_up.py), users create hint (tests/community/
test_community.py), Accept: text/markdown and .bib (tests/web)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from paperfeed.community import claims, users
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_layout_browser import (  # noqa: F401 (fixtures used by name)
    LONG_URL,
    PASSWORD,
    SUMMARY,
    log_in,
    server_settings,
    site,
)
from tests.factories import add_entry
from tests.web.conftest import FRIDAY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOOKS = [
    pytest.param((device, scheme), id=f"{device}-{scheme}")
    for device in ("desktop", "phone")
    for scheme in ("light", "dark")
]
MANY = "2503.00031"  # 402 authors, an organization with a slash
UNKNOWN = "2503.00032"  # no categories yet (a Hugging Face listing's paper)
ORG = "AI/ML Lab"
VIDEO = "https://example.org/lanterns.mp4"
NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
HEADER = "document.querySelector('.site-header').getBoundingClientRect().height"


@pytest.fixture
def features(site: dict[str, str], database: Database, server_settings: Any) -> dict[str, str]:  # noqa: F811
    authors = [f"Author Number{i}" for i in range(1, 403)]
    add_entry(database, MANY, FRIDAY, upvotes=3, title="Four Hundred Hands", organization=ORG,
              authors=authors)  # fmt: skip
    add_entry(database, UNKNOWN, FRIDAY, title="Lanterns Without Categories", categories=[],
              primary_category=None)  # fmt: skip
    with database.write() as session:
        session.execute(
            update(Paper).where(Paper.arxiv_id == "2503.00001").values(media_urls=[VIDEO])
        )
    ann = users.get_account(database, "ann")
    boss = users.get_account(database, "boss")
    assert ann is not None and boss is not None
    made = claims.claim(database, ann, "2503.00002", "Ben Two")
    claims.decide(database, boss, made.id, True)
    return site


@pytest.fixture(params=LOOKS)
def look(browser: Any, request: pytest.FixtureRequest, output_dir: Path) -> Iterator[Any]:
    """A browser context in each of the four looks (every test using it runs in all four);
    ``look.shot(page, feature)`` asserts nothing overflows and writes the screenshot;
    ``look.options`` makes another context in the same look."""
    device, scheme = request.param
    options = {"color_scheme": scheme, **(PHONE if device == "phone" else DESKTOP)}
    context = browser.new_context(**options)
    out = output_dir / "features"
    out.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, feature: str) -> None:
        assert page.evaluate(NO_OVERFLOW), f"{feature} scrolls sideways ({device}, {scheme})"
        page.screenshot(path=str(out / f"{feature}-{device}-{scheme}.png"))

    try:
        yield SimpleNamespace(
            context=context,
            new_page=context.new_page,
            shot=shot,
            options=options,
            browser=browser,
            phone=device == "phone",
        )
    finally:
        context.close()


def _in_place(page: Any) -> list[str]:
    """Main-frame navigations from now on (none may happen for an in-place action)."""
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    page.evaluate("document.addEventListener('submit', () => { window.at = window.scrollY }, true)")
    return navigations


def test_vote_and_collect_in_place(look: Any, server: str, features: dict[str, str]) -> None:
    """1. A vote and an 'Add to collection' change the page in place: no navigation, scroll kept."""
    log_in(look.context, server, "ann")
    page = look.new_page()
    page.goto(f"{server}/papers/date/{FRIDAY}")
    card = page.locator("#paper-2503\\.00001")
    card.scroll_into_view_if_needed()
    navigations = _in_place(page)
    card.locator("button.vote").click()
    card.locator("button.vote.voted").wait_for()
    assert card.locator(".vote-n").inner_text() == "11"
    assert navigations == [] and page.evaluate("window.scrollY") == page.evaluate("window.at")
    look.shot(page, "vote")
    page.goto(f"{server}/papers/{features['arxiv_id']}")
    form = page.locator("form[data-collect]")
    form.scroll_into_view_if_needed()
    navigations = _in_place(page)
    form.get_by_role("button", name="Add").click()
    page.get_by_role("status").get_by_role("link", name="Reading list").wait_for()
    assert navigations == [] and page.evaluate("window.scrollY") == page.evaluate("window.at")
    look.shot(page, "collect")


def test_without_javascript_a_vote_returns_to_the_card(
    look: Any, server: str, features: dict[str, str]
) -> None:
    """1. Without JavaScript the vote posts and the redirect lands on the voted card."""
    context = look.browser.new_context(java_script_enabled=False, **look.options)
    try:
        log_in(context, server, "ann")
        page = context.new_page()
        page.goto(f"{server}/papers/date/{FRIDAY}")
        page.locator("#paper-2503\\.00003 button.vote").click()
        page.wait_for_url(f"{server}/papers/date/{FRIDAY}#paper-2503.00003")
        assert page.locator("#paper-2503\\.00003 button.vote.voted").count() == 1
        look.shot(page, "vote-no-js")
    finally:
        context.close()


def test_cards_compact_view_summary_media(look: Any, server: str, features: dict[str, str]) -> None:
    """2. The AI summary is a card's text, media is a link (nothing fetched from its host),
    the compact view is switched and remembered."""
    page = look.new_page()
    foreign: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(server) else None)
    page.goto(f"{server}/papers/date/{FRIDAY}")
    lanterns = page.locator("#paper-2503\\.00002")
    assert SUMMARY in lanterns.locator(".abstract.ai-summary").inner_text()
    media = page.locator("#paper-2503\\.00001").locator(f'a.pill[href="{VIDEO}"]')
    assert media.inner_text().strip() == "Video"
    look.shot(page, "cards")
    page.locator('.view-switch a[data-view="compact"]').click()
    page.locator("ol.cards.compact").wait_for()
    page.reload()
    assert page.locator("ol.cards.compact").count() == 1  # remembered
    look.shot(page, "compact")
    assert foreign == []


def test_authors_collapsed_and_name_pages(look: Any, server: str, features: dict[str, str]) -> None:
    """2. '+N more' opens; names and the organization (a slash in it) lead to their pages,
    which list papers newest first without ranks and link their feed under /feeds/."""
    page = look.new_page()
    page.goto(f"{server}/papers/{MANY}")
    more = page.locator(".more-authors summary")
    shown = page.locator(".author-list > a.author").count()
    assert 0 < shown < 20 and more.inner_text() == f"+{402 - shown} more"
    look.shot(page, "paper-authors")
    more.click()
    page.locator('a.author:has-text("Author Number402")').wait_for()
    page.get_by_role("link", name=ORG).click()
    page.wait_for_url(f"{server}/orgs/AI%2FML%20Lab")
    assert page.locator("h1").inner_text() == ORG
    assert page.locator(".card .rank").count() == 0
    assert page.locator('a[href="/feeds/orgs/AI%2FML%20Lab.atom"]').count() == 1
    look.shot(page, "org-page")
    page.get_by_role("link", name="Author Number2", exact=True).first.click()
    page.wait_for_url(f"{server}/authors/Author%20Number2")
    assert "Four Hundred Hands" in page.locator(".cards").inner_text()
    look.shot(page, "author-page")


def test_header_and_menu(look: Any, server: str, features: dict[str, str]) -> None:
    """2. The admin's header: one row at 1280 px; at most 64 px on a phone, the rest behind the
    menu button."""
    log_in(look.context, server, "boss")
    page = look.new_page()
    page.goto(f"{server}/papers/date/{FRIDAY}")
    assert page.evaluate(HEADER) <= 64
    if look.phone:
        weekly = page.get_by_role("link", name="Weekly")
        assert not weekly.is_visible()
        page.locator(".menu-button").click()
        assert weekly.is_visible() and page.get_by_role("link", name="Digest").is_visible()
    else:
        search = page.locator(".site-header input[type=search]").bounding_box()
        daily = page.locator(".site-header a", has_text="Daily").first.bounding_box()
        assert abs(search["y"] - daily["y"]) < 24  # the same row
    look.shot(page, "header")


def test_search_page(look: Any, server: str, features: dict[str, str]) -> None:
    """3. An author's name: suggestion and counts of every word; a malformed filter inline with
    the query kept; categories not yet known said; a long pasted URL overflows nothing."""
    page = look.new_page()
    page.goto(f"{server}/search?q=ann+one+lanterns")
    assert page.locator("p.author-suggestion a").inner_text() == "Papers by Ann One →"
    assert "1 paper matches all the words" in page.locator(".page-head .sub").inner_text()
    assert page.locator("li.card").first.locator("mark a.author").inner_text() == "Ann One"
    look.shot(page, "search-author")
    page.goto(f"{server}/search?q=lanterns+year%3Asoon")
    assert page.locator("#search-q").input_value() == "lanterns year:soon"
    assert "year must be YYYY" in page.locator("p.search-error").inner_text()
    look.shot(page, "search-error")
    page.goto(f"{server}/search?q=lanterns+cat%3Amath.AG")
    assert "not yet known" in page.locator("#categories-unknown").inner_text()
    look.shot(page, "search-categories-unknown")
    page.goto(f"{server}/search?q={LONG_URL}")
    look.shot(page, "search-long-url")


def test_paper_page(look: Any, server: str, features: dict[str, str]) -> None:
    """4 and 6. Comment counts say what is here and what is on Hugging Face; the verified
    author is marked; link-preview meta; BibTeX with a working copy button."""
    page = look.new_page()
    page.goto(f"{server}/papers/{features['arxiv_id']}")
    assert page.locator("a.hf-comments, a:has-text('on Hugging Face')").first.is_visible()
    assert page.locator(".verified-author").first.get_attribute("href") == "/u/ann"
    assert page.locator('meta[property="og:title"]').get_attribute("content")
    copy = page.locator('button[data-copy="bibtex"]')
    assert copy.is_visible()
    look.shot(page, "paper")
    page.goto(f"{server}/papers/date/{FRIDAY}")
    assert page.locator("#paper-2503\\.00002 .verified-author").count() == 1


def test_forms_mail_note_and_admin(look: Any, server: str, features: dict[str, str]) -> None:
    """4 and 6. With no relay the subscribe page says so; form pages and the admin's lists
    (with counts) and outbox fit."""
    page = look.new_page()
    page.goto(f"{server}/subscribe")
    assert "no mail relay yet" in page.locator(".mail-note").inner_text()
    look.shot(page, "subscribe")
    log_in(look.context, server, "boss")
    for path, feature in (("/account/digest", "digest-prefs"), ("/account", "account"),
                          ("/admin", "admin"), ("/admin/users", "admin-users"),
                          ("/admin/outbox", "admin-outbox")):  # fmt: skip
        page.goto(server + path)
        look.shot(page, feature)
    page.goto(f"{server}/admin/users")
    assert "2 accounts" in page.locator("main").inner_text()


def test_future_day_and_api_docs(look: Any, server: str, features: dict[str, str]) -> None:
    """5 and 6. A future day redirects to the latest day with papers; /api/docs works from
    the site alone."""
    page = look.new_page()
    page.goto(f"{server}/papers/date/2099-01-01")
    assert "2099" not in page.url
    assert page.locator("li.card").count() > 0
    look.shot(page, "future-day")
    foreign: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(server) else None)
    page.goto(f"{server}/api/docs")
    page.locator(".opblock").first.wait_for()
    assert foreign == []
    look.shot(page, "api-docs")
