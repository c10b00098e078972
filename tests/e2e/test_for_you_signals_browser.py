"""The signals page (/for-you/signals) in real headless Chromium, without JavaScript: a
reader with signals of every kind (a long title, a long author name) creates the private
feed URL (shown once), asks to delete everything and confirms; at phone width (390 px),
light and dark, nothing overflows sideways. Screenshots under test-output/e2e/for-you/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperfeed.community import users
from paperfeed.config import Settings
from paperfeed.recommend import signals
from paperfeed.store.db import Database
from tests.e2e.conftest import PHONE, settings_from_env
from tests.e2e.test_layout_browser import PASSWORD, log_in
from tests.factories import add_paper
from tests.recommend import rank_corpus as rc

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LONG_TITLE = "Averyveryverylongunbrokenwordthatwouldoverflowaphone " * 3
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def server_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with settings_from_env(monkeypatch) as served:
        yield served


@pytest.fixture
def reader(server: str, database: Database, server_settings: Settings) -> str:
    ann = users.create_user(database, server_settings, "ann", "ann@example.org", PASSWORD)
    long_one = add_paper(database, "2512.04242", title=LONG_TITLE)
    rc.upvote(database, ann.id, long_one)
    rc.save(database, ann.id, long_one)
    signals.add_seeds(database, ann.id, ["2503.00002", "hep-th/9901001"])
    signals.dismiss(database, ann.id, "2503.00003")
    signals.ignore(database, ann.id, "2503.00004", True)
    signals.set_follows(database, ann.id, ["cs.CL"], ["A" * 60 + " " + "B" * 60])
    return "ann"


def test_the_signals_page_fits_a_phone_light_and_dark(
    browser: Any, server: str, reader: str, output_dir: Path
) -> None:
    shots = output_dir / "for-you"
    shots.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        context = browser.new_context(**PHONE, color_scheme=scheme, java_script_enabled=False)
        log_in(context, server, reader)
        page = context.new_page()
        page.goto(f"{server}/for-you/signals")
        assert page.evaluate(OVERFLOW) <= 0
        assert page.locator("a[href='/papers/2512.04242']").count() == 2  # upvoted, saved
        # light made the first URL; dark replaces it
        made = "Create a" if scheme == "light" else "Replace my"
        page.get_by_role("button", name=f"{made} private feed URL").click()
        url = page.locator("#feed-url-atom").inner_text()
        assert "/feeds/for-you/" in url and page.evaluate(OVERFLOW) <= 0
        page.screenshot(path=str(shots / f"signals-feed-{scheme}.png"), full_page=True)
        page.get_by_role("button", name="Delete all my signals…").click()
        assert page.get_by_role("button", name="Yes, delete all my signals").is_visible()
        assert page.evaluate(OVERFLOW) <= 0
        page.screenshot(path=str(shots / f"signals-confirm-{scheme}.png"), full_page=True)
        if scheme == "dark":
            page.get_by_role("button", name="Yes, delete all my signals").click()
            assert "All your signals are deleted." in page.content()
            assert page.locator("a[href='/papers/2503.00002']").count() == 0  # seeds gone
        context.close()
