"""The site in a real browser: order, navigation, card clicks, dark mode, screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import FRIDAY, MONDAY, WEDNESDAY

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FRIDAY_ORDER = [
    "Lanterns: Tiny Models That Read Maps",
    "Quiet Tokens and Loud Gradients",
    "Gradient Gardens for Sparse Mixtures",
]


def card_titles(page: Any) -> list[str]:
    titles: list[str] = page.locator(".card .card-title a").all_inner_texts()
    return [t.strip() for t in titles]


def test_day_page_order_and_day_navigation(browser: Any, server: str) -> None:
    page = browser.new_page()
    page.goto(f"{server}/papers/date/{FRIDAY}")
    assert card_titles(page) == FRIDAY_ORDER
    assert page.locator(".card .rank").first.inner_text() == "#1"

    page.get_by_role("link", name="Next day →").first.click()
    page.wait_for_url(f"{server}/papers/date/{MONDAY}")  # the weekend is skipped
    assert card_titles(page)[0] == "Gradient Gardens for Sparse Mixtures"

    page.get_by_role("link", name="← Previous day").first.click()
    page.wait_for_url(f"{server}/papers/date/{FRIDAY}")
    assert card_titles(page) == FRIDAY_ORDER
    page.close()


def test_date_form_goes_to_the_day(browser: Any, server: str) -> None:
    page = browser.new_page()
    page.goto(server)
    page.fill("#date-input", str(FRIDAY))
    page.get_by_role("button", name="Go").click()
    page.wait_for_url(f"{server}/papers/date/{FRIDAY}")
    assert card_titles(page) == FRIDAY_ORDER
    page.close()


def test_card_click_opens_the_paper(browser: Any, server: str) -> None:
    page = browser.new_page()
    page.goto(f"{server}/papers/date/{FRIDAY}")
    # Click the middle of the card, not its title: the whole card is the link's target.
    page.locator(".card").first.click()
    page.wait_for_url(f"{server}/papers/2503.00002")
    assert page.locator("h1").inner_text() == FRIDAY_ORDER[0]
    assert "Eve Five" in page.locator(".authors-full").inner_text()
    page.get_by_role("link", name=f"← Daily papers of Mar {FRIDAY.day}, {FRIDAY.year}").click()
    page.wait_for_url(f"{server}/papers/date/{FRIDAY}")
    page.close()


def test_escaped_title_runs_no_script(browser: Any, server: str) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))  # type: ignore[func-returns-value]
    page.goto(f"{server}/papers/date/{MONDAY}")
    assert "<script>alert('x')</script> & Friends" in card_titles(page)
    assert dialogs == []
    page.close()


def test_dark_mode_changes_the_background(browser: Any, server: str) -> None:
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(color_scheme=scheme)
        page = context.new_page()
        page.goto(f"{server}/papers/date/{WEDNESDAY}")
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        context.close()
    assert colours["light"] != colours["dark"]
    assert colours["light"] == "rgb(247, 248, 250)"
    assert colours["dark"] == "rgb(17, 24, 39)"


def test_demo_label_visible(browser: Any, server: str) -> None:
    page = browser.new_page()
    page.goto(server)
    assert page.locator(".demo-label").is_visible()
    page.close()


@pytest.mark.parametrize(
    ("name", "options"),
    [
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
    ],
)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(
    browser: Any, server: str, output_dir: Path, name: str, options: dict[str, Any], scheme: str
) -> None:
    context = browser.new_context(color_scheme=scheme, **options)
    page = context.new_page()
    shots = {
        "day": f"/papers/date/{FRIDAY}",
        "paper": "/papers/2503.00002",
        "empty-day": "/papers/date/2025-03-08",
        "week": "/papers/week/2025-W11",
        "trending": "/papers/trending",
        "not-found": "/papers/2503.99999",
    }
    for label, path in shots.items():
        page.goto(server + path)
        out = output_dir / f"{label}-{name}-{scheme}.png"
        page.screenshot(path=str(out), full_page=True)
        assert out.stat().st_size > 5_000
    # Nothing sticks out sideways on a phone.
    page.goto(f"{server}/papers/date/{FRIDAY}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    context.close()
