"""The For-you page in a real browser: a reader seeds by pasting an id, sees ranked cards with
their reasons, and "Not interested" works in place (no navigation; the button becomes its
undo) and, without JavaScript, lands back on the page with the undo offered. Desktop and
phone, light and dark: nothing scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperfeed.config import Settings
from paperfeed.recommend import candidates
from paperfeed.store.db import Database
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_layout_browser import (  # noqa: F401 (fixtures used by name)
    log_in,
    server_settings,
    site,
)
from tests.recommend import rank_corpus as rc

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def corpus(
    site: dict[str, str],  # noqa: F811
    database: Database,
    server_settings: Settings,  # noqa: F811
) -> Iterator[rc.Corpus]:
    candidates.forget_pools()
    yield rc.build(database, server_settings)
    candidates.forget_pools()


def seed(page: Any, server: str, arxiv_id: str) -> None:
    page.goto(f"{server}/for-you?tab=week")
    page.fill("#seed-text", arxiv_id)
    page.get_by_role("button", name="Add these papers").click()
    page.locator(".seed-report").wait_for()


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_not_interested_in_place(
    browser: Any, server: str, corpus: rc.Corpus, output_dir: Path, device: str, scheme: str
) -> None:
    context = browser.new_context(color_scheme=scheme, **(PHONE if device == "phone" else DESKTOP))
    log_in(context, server, "ann")
    page = context.new_page()
    page.goto(f"{server}/for-you")
    assert page.locator("#onboarding-h").is_visible()
    assert page.evaluate(NO_OVERFLOW)
    page.screenshot(path=str(output_dir / f"for-you-onboarding-{device}-{scheme}.png"))
    seed(page, server, corpus.arxiv_of[corpus.topics["B"][2]])
    page.goto(f"{server}/for-you?tab=week")
    first = page.locator("ol.cards > li.card").first
    assert "which you named" in first.locator(".reason").inner_text()
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    first.get_by_role("button", name="Not interested").click()
    first.get_by_role("button", name="Undo not interested").wait_for()
    assert "is-dismissed" in (first.get_attribute("class") or "")
    assert navigations == []
    assert page.evaluate(NO_OVERFLOW)
    page.screenshot(path=str(output_dir / f"for-you-{device}-{scheme}.png"))
    first.get_by_role("button", name="Undo not interested").click()
    first.get_by_role("button", name="Not interested").wait_for()
    assert navigations == []
    page.goto(f"{server}/view/compact?next=/for-you%3Ftab%3Dweek")
    page.locator("ol.cards.compact").wait_for()
    assert page.locator("ol.cards > li.card").first.get_by_role("button").count() == 2
    assert page.evaluate(NO_OVERFLOW)
    page.screenshot(path=str(output_dir / f"for-you-compact-{device}-{scheme}.png"))
    context.close()


def test_not_interested_without_javascript(browser: Any, server: str, corpus: rc.Corpus) -> None:
    context = browser.new_context(java_script_enabled=False, **DESKTOP)
    log_in(context, server, "ann")
    page = context.new_page()
    seed(page, server, corpus.arxiv_of[corpus.topics["A"][2]])
    page.goto(f"{server}/for-you?tab=week")
    card = page.locator("ol.cards > li.card").first
    gone = (card.get_attribute("id") or "").removeprefix("paper-")
    card.get_by_role("button", name="Not interested").click()
    page.wait_for_url(f"{server}/for-you?tab=week&dismissed={gone}#paper-{gone}")
    note = page.locator(".undo-note")
    ids = [(c.get_attribute("id") or "")[6:] for c in page.locator("ol.cards > li.card").all()]
    assert note.is_visible() and gone not in ids
    note.get_by_role("button", name="Undo").click()
    page.wait_for_url(f"{server}/for-you?tab=week#paper-{gone}")
    assert page.locator("ol.cards > li.card").count() > 0
    assert gone in [
        (c.get_attribute("id") or "")[6:] for c in page.locator("ol.cards > li.card").all()
    ]
    context.close()
