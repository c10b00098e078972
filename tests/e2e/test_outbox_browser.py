"""Honest mail in real headless Chromium, on a site with no SMTP relay: a visitor subscribes
(the page says there is no relay), the admin finds the confirmation at /admin/outbox, reads it
(links clickable, the HTML part never rendered), and its link confirms. At desktop and phone
width, light and dark, no page overflows sideways; screenshots go to test-output/e2e."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperfeed.community import users
from paperfeed.config import Settings
from paperfeed.digest import subscriptions as subs
from paperfeed.mail.outbox import Outbox
from paperfeed.store.db import Database
from tests.e2e.conftest import settings_from_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "a long test password"
LONG_URL = "https://example.org/" + "a-very-long-path-segment-" * 12
DIGEST = (
    "From: paperfeed@example.org\r\nTo: reader@example.org\r\n"
    "Subject: paperfeed daily: a subject long enough to wrap on a phone screen, twice over\r\n"
    'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
    f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRead {LONG_URL} today.\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<table width=900><tr><td><script>window.__mailran=1</script>"
    "<img src=x onerror=window.__mailran=1>hello</td></tr></table>\r\n--b--\r\n"
)
NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def server_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.delenv("PAPERFEED_SMTP_HOST", raising=False)
    with settings_from_env(monkeypatch, RATE_LIMIT_SUBSCRIBE_IP="1000/minute") as served:
        yield served


def _log_in(page: Any, server: str, name: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#login", name)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server}/")


def test_outbox_in_the_browser(
    browser: Any, server: str, server_settings: Settings, database: Database, output_dir: Path
) -> None:
    users.create_user(
        database, server_settings, "boss", "boss@example.org", PASSWORD, is_admin=True
    )
    visitor = browser.new_page(viewport={"width": 390, "height": 844})
    visitor.goto(f"{server}/subscribe")
    assert "no mail relay yet" in visitor.locator(".mail-note").inner_text()
    visitor.fill("#email", "reader@example.org")
    visitor.locator("#main").get_by_role("button", name="Subscribe").click()
    assert "no mail relay yet" in visitor.locator(".mail-note").inner_text()
    assert visitor.evaluate(NO_OVERFLOW)
    box = Outbox.of(server_settings)
    deadline = time.monotonic() + 10  # the confirmation is written after the answer
    while not box.names() and time.monotonic() < deadline:
        time.sleep(0.05)
    box.write(DIGEST.encode())  # the newest, with a wide HTML part

    for scheme in ("light", "dark"):
        admin = browser.new_page(
            viewport={"width": 1280, "height": 900}, color_scheme=scheme, bypass_csp=True
        )
        _log_in(admin, server, "boss")
        for width, height, label in ((1280, 900, "desktop"), (390, 844, "phone")):
            admin.set_viewport_size({"width": width, "height": height})
            admin.goto(f"{server}/admin/outbox")
            rows = admin.locator(".admin-table tbody tr")
            assert rows.count() == 2
            assert "2 messages" in admin.locator(".form-page").inner_text()
            assert admin.evaluate(NO_OVERFLOW), f"/admin/outbox overflows at {width}px"
            admin.screenshot(
                path=str(output_dir / f"admin-outbox-{label}-{scheme}.png"), full_page=True
            )
            rows.first.get_by_role("link").click()
            admin.locator(".mail-text").first.wait_for()
            assert admin.locator(f'.mail-text a[href="{LONG_URL}"]').count() == 1
            assert admin.evaluate("window.__mailran") is None  # the HTML part never ran
            assert admin.locator(".mail-html table, .mail-html img").count() == 0
            assert admin.evaluate(NO_OVERFLOW), f"a message overflows at {width}px"
            admin.screenshot(
                path=str(output_dir / f"admin-outbox-message-{label}-{scheme}.png"),
                full_page=True,
            )
        admin.close()

    # The confirmation mail's link, opened from the outbox, confirms the subscription.
    admin = browser.new_page(viewport={"width": 390, "height": 844})
    _log_in(admin, server, "boss")
    admin.goto(f"{server}/admin/outbox")
    admin.get_by_role("link", name="Confirm your paperfeed digest").click()
    link = admin.locator('.mail-text a[href*="/subscribe/confirm/"]')
    href = link.get_attribute("href")
    assert href is not None and href.startswith(server_settings.base_url)
    visitor.goto(server + href.removeprefix(server_settings.base_url))
    visitor.get_by_role("button", name="Confirm subscription").click()
    visitor.get_by_role("heading", name="Subscribed").wait_for()
    found = subs.get_by_email(database, "reader@example.org")
    assert found is not None and found.status == "confirmed"
    for path in ("/admin", "/admin/users", "/admin/subscribers", "/admin/digests"):
        admin.goto(f"{server}{path}")
        assert admin.evaluate(NO_OVERFLOW), f"{path} overflows at 390px"
    admin.screenshot(path=str(output_dir / "admin-subscribers-phone.png"), full_page=True)
