"""The digest's HTML part in real Chromium at desktop and phone width, light and dark:
screenshots under test-output/e2e/digest/ (part of the tests' output)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from paperfeed.config import Settings
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.compose import period_for
from paperfeed.digest.render import Recipient, Renderer
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from tests.e2e.conftest import REPO
from tests.web.conftest import FRIDAY, seed_site

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # real Chromium

OUT = REPO / "test-output" / "e2e" / "digest"


def test_digest_html_in_chromium(settings: Settings, database: Database, browser: Any) -> None:
    seed_site(database)
    view, _ = subs.add(database, settings, "reader@example.org", confirmed=True)
    with database.read() as session:
        ids = [p.id for p in session.query(Paper).order_by(Paper.id)]
    renderer = Renderer(database, settings)
    period = period_for("daily", FRIDAY)
    content = renderer.render_content(period, ids)
    data = renderer.message(
        content, Recipient(view.id, view.email), 1, period, dt.datetime(2025, 3, 8, 7)
    )
    import email
    from email import policy

    message = email.message_from_bytes(data, policy=policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "digest.html").write_text(html)
    for name, width, height, scheme in [
        ("desktop-light", 1280, 900, "light"),
        ("desktop-dark", 1280, 900, "dark"),
        ("phone-light", 390, 844, "light"),
        ("phone-dark", 390, 844, "dark"),
    ]:
        page = browser.new_page(viewport={"width": width, "height": height}, color_scheme=scheme)
        page.set_content(html)
        # Nothing overflows the phone's width (tables shrink), every paper is there.
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width + 1, (name, scroll)
        assert page.locator("a.title, a[href*='/papers/']").count() >= len(ids)
        page.screenshot(path=str(OUT / f"digest-{name}.png"), full_page=True)
        page.close()
