"""HTML pages: content, order, navigation, redirects, errors, escaping, demo label."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.factories import add_entry
from tests.web.conftest import FRIDAY, MONDAY, WEDNESDAY, set_demo

CARD_LINK = re.compile(r'class="stretch" href="/papers/([^"]+)"')
DEMO_TEXT = "generated papers, not real research"


def card_ids(html: str) -> list[str]:
    return CARD_LINK.findall(html)


def cards(html: str) -> dict[str, str]:
    """Each card's HTML by arXiv id."""
    out = {}
    for chunk in re.split(r'<li class="card"[^>]*>', html)[1:]:
        out[card_ids(chunk)[0]] = chunk.split("</li>")[0]
    return out


def link(html: str, rel: str) -> str | None:
    m = re.search(rf'rel="{rel}" href="([^"]+)"', html)
    return m[1] if m else None


def test_day_page_lists_papers_by_upvotes_then_submission(client: TestClient) -> None:
    r = client.get("/papers/date/2025-03-07")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    # 25 votes first; the two 10-vote papers by submission time (08:00 before 09:00).
    assert card_ids(r.text) == ["2503.00002", "2503.00003", "2503.00001"]
    assert "Friday, March 7, 2025" in r.text
    assert '<span class="rank" aria-label="Rank 1">#1</span>' in r.text


def test_home_shows_the_latest_day(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert card_ids(home.text) == ["2503.00006"]
    assert card_ids(home.text) == card_ids(client.get(f"/papers/date/{WEDNESDAY}").text)
    assert "Wednesday, March 12, 2025" in home.text


def test_prev_next_skip_empty_days(client: TestClient) -> None:
    friday = client.get(f"/papers/date/{FRIDAY}").text
    assert link(friday, "next") == f"/papers/date/{MONDAY}"  # the weekend is skipped
    assert link(friday, "prev") == "/papers/date/2025-02-14"
    monday = client.get(f"/papers/date/{MONDAY}").text
    assert link(monday, "prev") == f"/papers/date/{FRIDAY}"
    assert link(monday, "next") == f"/papers/date/{WEDNESDAY}"
    wednesday = client.get(f"/papers/date/{WEDNESDAY}").text
    assert link(wednesday, "next") is None
    assert "Next →" in wednesday  # shown disabled


def test_empty_day_is_a_friendly_200_with_navigation(client: TestClient) -> None:
    r = client.get("/papers/date/2025-03-08")
    assert r.status_code == 200
    assert card_ids(r.text) == []
    assert "No papers were featured on Mar 8, 2025" in r.text
    assert link(r.text, "prev") == f"/papers/date/{FRIDAY}"
    assert link(r.text, "next") == f"/papers/date/{MONDAY}"


def test_card_content(client: TestClient) -> None:
    html = client.get(f"/papers/date/{FRIDAY}").text
    card = cards(html)["2503.00002"]
    # three authors, then "+2 more" that opens without JavaScript; each a link
    shown, more = card.split('<details class="more-authors">')
    assert re.findall(r'class="author" href="([^"]+)">', shown) == [
        "/authors/Ann%20One",
        "/authors/Ben%20Two",
        "/authors/Cat%20Three",
    ]
    assert more.startswith("<summary>+2 more</summary>")
    assert 'href="/authors/Dan%20Four">Dan Four</a>' in more
    assert '<span class="vote-n">25</span>' in card
    assert "submitted by <b>alice</b>" in card
    assert 'href="https://github.com/example/lanterns"' in card
    assert "1.2k" in card  # stars
    assert 'href="https://example.org/lanterns"' in card
    assert card.index("cs.LG") < card.index("cs.CL")  # primary category first
    # 7 comments imported from Hugging Face, none written here: counted as such, linked
    assert 'title="0 comments here"' in card
    assert '<a class="stat hf-comments" href="https://huggingface.co/papers/2503.00002"' in card
    assert "7 on Hugging Face" in card


def test_long_abstract_is_truncated_on_cards(settings: Settings, database: Database) -> None:
    add_entry(database, "2503.00100", FRIDAY, abstract="word " * 400)
    with TestClient(create_app(settings, database)) as client:
        html = client.get(f"/papers/date/{FRIDAY}").text
        assert "word …" in html or "word…" in html
        assert html.count("word") < 80
        assert client.get("/papers/2503.00100").text.count("word") >= 400


def test_week_page(client: TestClient) -> None:
    r = client.get("/papers/week/2025-W11")  # Mon 10 - Sun 16 March
    assert r.status_code == 200
    ids = card_ids(r.text)
    assert set(ids) == {"2503.00005", "2503.00004", "2503.00006", "2503.00001"}
    assert ids[0] == "2503.00001"  # 10 upvotes
    assert link(r.text, "prev") == "/papers/week/2025-W10"
    assert link(r.text, "next") is None
    assert "Week 11, 2025" in r.text


def test_month_page_and_navigation(client: TestClient) -> None:
    r = client.get("/papers/month/2025-03")
    assert r.status_code == 200
    ids = card_ids(r.text)
    assert ids[:2] == ["2503.00002", "2503.00003"]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert link(r.text, "prev") == "/papers/month/2025-02"
    feb = client.get("/papers/month/2025-02").text
    assert card_ids(feb) == ["hep-th/9901001"]
    assert link(feb, "next") == "/papers/month/2025-03"


def test_period_paging(settings: Settings, site: Database) -> None:
    settings.page_size = 4
    with TestClient(create_app(settings, site)) as client:
        first = client.get("/papers/month/2025-03").text
        second = client.get("/papers/month/2025-03?page=2").text
        assert len(card_ids(first)) == 4 and len(card_ids(second)) == 2
        assert "Page 1 of 2" in first
        assert '<span class="rank" aria-label="Rank 5">#5</span>' in second
        assert client.get("/papers/month/2025-03?page=0").status_code == 400


def test_trending_page(client: TestClient) -> None:
    r = client.get("/papers/trending")
    assert r.status_code == 200
    ids = card_ids(r.text)
    assert ids and ids[0] == "2503.00001"  # 10 votes, featured Monday again
    assert 'aria-current="page">Trending' in r.text


def test_paper_page(client: TestClient) -> None:
    r = client.get("/papers/2503.00002")
    assert r.status_code == 200
    html = r.text
    assert '<h1 class="paper-title">Lanterns: Tiny Models That Read Maps</h1>' in html
    names = re.findall(r'class="author" href="/authors/[^"]+">([^<]+)</a>', html)
    assert names == ["Ann One", "Ben Two", "Cat Three", "Dan Four", "Eve Five"]
    assert "more-authors" not in html  # five names are shown whole on the page
    assert "An abstract written for the tests about paper 2503.00002." in html
    assert 'href="https://arxiv.org/abs/2503.00002"' in html
    assert 'href="https://arxiv.org/pdf/2503.00002"' in html
    assert 'href="https://github.com/example/lanterns"' in html
    assert "example/lanterns" in html and "1.2k" in html
    assert 'href="https://example.org/lanterns"' in html
    assert "12 pages, 4 figures" in html
    assert "Journal of Invented Results" in html
    assert 'href="https://doi.org/10.1234/invented.5678"' in html
    assert "v2" in html
    assert "0 comments" in html and "7 on Hugging Face" in html
    assert '7 comments on <a href="https://huggingface.co/papers/2503.00002"' in html
    assert '<span class="vote-n">25</span>' in html
    assert f'href="/papers/date/{FRIDAY}"' in html  # featured on
    assert "Mar 3, 2025" in html  # published


def test_paper_featured_on_several_days(client: TestClient) -> None:
    html = client.get("/papers/2503.00001").text
    featured = html[html.index("Featured on") :]
    assert f'href="/papers/date/{MONDAY}"' in featured
    assert f'href="/papers/date/{FRIDAY}"' in featured


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/papers/2503.00002v2", "/papers/2503.00002"),
        ("/papers/2503.00002v11", "/papers/2503.00002"),
        ("/papers/hep-th/9901001v3", "/papers/hep-th/9901001"),
        ("/papers/math.AG/0601001v1", "/papers/math.AG/0601001"),
        ("/papers/0704.0001v1", "/papers/0704.0001"),
    ],
)
def test_versioned_id_redirects(client: TestClient, path: str, target: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code in (301, 308)
    assert r.headers["location"] == target


def test_old_style_id(client: TestClient) -> None:
    r = client.get("/papers/hep-th/9901001")
    assert r.status_code == 200
    assert "An Old-Style Identifier on Strings" in r.text
    assert 'href="https://arxiv.org/abs/hep-th/9901001"' in r.text
    day = client.get("/papers/date/2025-02-14").text
    assert card_ids(day) == ["hep-th/9901001"]


@pytest.mark.parametrize("path", ["/papers/2503.99999", "/papers/not-a-paper", "/nowhere"])
def test_unknown_paper_is_a_404_page_in_the_layout(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert 'class="site-header"' in r.text and "Page not found" in r.text


def test_markdown_route_is_not_shadowed(client: TestClient) -> None:
    r = client.get("/papers/2503.00002.md")
    assert r.status_code == 200
    assert not r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    [
        "/papers/date/2025-13-01",
        "/papers/date/2025-02-30",
        "/papers/date/yesterday",
        "/papers/week/2025-W60",
        "/papers/week/2025-11",
        "/papers/month/2025-13",
        "/papers/month/march",
        "/papers/date?date=31/12/2025",
    ],
)
def test_malformed_period_is_a_400_page(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "Bad request" in r.text and 'class="site-header"' in r.text


def test_date_form_redirects_to_the_day(client: TestClient) -> None:
    r = client.get("/papers/date?date=2025-03-10", follow_redirects=False)
    assert r.status_code in (302, 303)
    assert r.headers["location"] == "/papers/date/2025-03-10"
    html = client.get("/").text
    assert '<form class="datejump" action="/papers/date" method="get">' in html
    assert 'type="date" name="date"' in html


def test_header_nav_and_landmarks(client: TestClient) -> None:
    html = client.get(f"/papers/date/{MONDAY}").text
    for tag in ("<header", "<main", "<footer", "<nav"):
        assert tag in html
    assert 'href="/papers/week/2025-W11"' in html
    assert 'href="/papers/month/2025-03"' in html
    assert 'href="/papers/trending"' in html
    assert 'href="/static/style.css?v=' in html


def test_title_is_escaped(client: TestClient) -> None:
    html, rss = "&lt;script&gt;alert(", "&amp;lt;script&amp;gt;alert("  # RSS: HTML in XML
    for path, escaped in (
        (f"/papers/date/{MONDAY}", html),
        ("/papers/2503.00005", html),
        ("/feeds/latest.xml", rss),
    ):
        body = client.get(path).text
        assert "<script>alert" not in body
        assert escaped in body


def test_demo_label_only_on_demo_sites(settings: Settings, site: Database) -> None:
    with TestClient(create_app(settings, site)) as client:
        assert DEMO_TEXT not in client.get("/").text
    set_demo(site)
    with TestClient(create_app(settings, site)) as client:
        assert DEMO_TEXT in client.get("/").text
        assert DEMO_TEXT in client.get("/papers/2503.00002").text


def test_empty_site(empty_client: TestClient) -> None:
    r = empty_client.get("/")
    assert r.status_code == 200
    assert "No papers yet" in r.text


def test_alternate_feed_links(client: TestClient) -> None:
    html = client.get(f"/papers/date/{FRIDAY}").text
    assert (
        f'<link rel="alternate" type="application/rss+xml" title="paperfeed: papers of {FRIDAY} '
        f'(RSS)" href="/feeds/day/{FRIDAY}.xml">' in html
    )
    assert 'type="application/atom+xml"' in html
    assert 'href="/feeds/latest.xml"' in html
    assert 'href="/feeds/trending.xml"' in client.get("/papers/trending").text


def test_static_files(client: TestClient) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.text.startswith("<svg")


def test_pages_are_cached(settings: Settings, site: Database) -> None:
    settings.cache_seconds = 60
    with TestClient(create_app(settings, site)) as client:
        before = client.get(f"/papers/date/{WEDNESDAY}").text
        add_entry(site, "2503.00200", WEDNESDAY, upvotes=99, title="A Late Arrival")
        assert client.get(f"/papers/date/{WEDNESDAY}").text == before
        client.app.state.cache.clear()  # type: ignore[attr-defined]
        assert "A Late Arrival" in client.get(f"/papers/date/{WEDNESDAY}").text


def test_error_page_500_renders_in_layout(client: TestClient) -> None:
    from starlette.requests import Request

    from paperfeed.web.pages.errors import error_page

    scope = {"type": "http", "path": "/x", "query_string": b"", "headers": [], "app": client.app}
    response = error_page(Request(scope), 500, "boom <b>")
    body = bytes(response.body).decode()
    assert response.status_code == 500
    assert "Something went wrong" in body and "boom &lt;b&gt;" in body


def test_index_redirects(client: TestClient) -> None:
    r = client.get("/papers", follow_redirects=False)
    assert r.status_code in (301, 307, 308) and r.headers["location"] == "/"
    r = client.get("/papers/date", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"] == "/"


@pytest.mark.parametrize("path", ["/", f"/papers/date/{FRIDAY}", "/feeds/latest.xml"])
def test_head_requests(client: TestClient, path: str) -> None:
    r = client.head(path)
    assert r.status_code == 200
    assert r.content == b""
