"""Issue 17's reader pages: a future day redirects to the latest day with papers; comment
counts say what can be read here and what was imported."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.factories import add_entry
from tests.web.conftest import FRIDAY, WEDNESDAY


def test_a_future_day_redirects_to_the_latest_day_with_papers(client: TestClient) -> None:
    for day in ("2099-01-01", (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)).isoformat()):
        r = client.get(f"/papers/date/{day}", follow_redirects=False)
        assert r.status_code == 302, day
        assert r.headers["location"] == f"/papers/date/{WEDNESDAY}"
        again = client.get(f"/papers/date/{day}", follow_redirects=False)  # from the cache
        assert (again.status_code, again.headers["location"]) == (302, r.headers["location"])
    assert client.head("/papers/date/2099-01-01", follow_redirects=False).status_code == 302


def test_an_empty_past_day_is_not_redirected(client: TestClient) -> None:
    r = client.get("/papers/date/2025-03-08", follow_redirects=False)  # a Saturday
    assert r.status_code == 200 and "No papers were featured" in r.text
    later = client.get("/papers/date/2026-01-05", follow_redirects=False)  # past, after the last
    assert later.status_code == 200 and f"/papers/date/{WEDNESDAY}" in later.text


def test_a_future_day_on_an_empty_site_redirects_home(empty_client: TestClient) -> None:
    r = empty_client.get("/papers/date/2099-01-01", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "/")


def test_a_day_ahead_of_the_clock_with_papers_is_shown(
    settings: Settings, database: Database
) -> None:
    ahead = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    add_entry(database, "2503.00077", ahead, title="A paper listed ahead of this clock")
    with TestClient(create_app(settings, database)) as c:
        r = c.get(f"/papers/date/{ahead}", follow_redirects=False)
        assert r.status_code == 200 and "ahead of this clock" in r.text


# --- author and organization pages ------------------------------------------------------------


def _names_site(database: Database) -> None:
    add_entry(database, "2503.00011", FRIDAY, title="First by Zoë",
              authors=["Zoë Ångström", "Ann Other"], organization="Invented Lab",
              published_at=dt.datetime(2025, 3, 1))  # fmt: skip
    add_entry(database, "2503.00012", FRIDAY, title="Second by Zoë",
              authors=["Bo Other", "zoe  angstrom"], organization="invented lab",
              published_at=dt.datetime(2025, 3, 5))  # fmt: skip
    add_entry(database, "2503.00013", FRIDAY, title="Not by Zoë", authors=["Zoe Angstromer"])


def test_author_page_lists_their_papers_newest_first(
    settings: Settings, database: Database
) -> None:
    _names_site(database)
    with TestClient(create_app(settings, database)) as c:
        r = c.get("/authors/Zo%C3%AB%20%C3%85ngstr%C3%B6m")
        assert r.status_code == 200
        assert re.findall(r'class="stretch" href="/papers/([^"]+)"', r.text) == [
            "2503.00012",
            "2503.00011",
        ]
        assert "<h1>zoe  angstrom</h1>" in r.text  # as the newest paper writes it
        assert 'href="/feeds/authors/zoe%20%20angstrom.atom"' in r.text
        assert 'class="rank"' not in r.text  # newest first: a rank would mean nothing
        assert 'type="application/json" href="/api/authors/zoe%20%20angstrom"' in r.text
        # any case, accents or spacing: the same papers
        other = c.get("/authors/ZOE ANGSTROM")
        assert other.status_code == 200 and "Second by Zoë" in other.text
        assert "Not by Zoë" not in other.text
        assert c.get("/authors/Nobody%20Here").status_code == 404
        assert c.get("/authors/%20%20").status_code == 400
        assert c.get("/authors/" + "x" * 201).status_code == 400
        assert c.get("/authors/Zoe%20Angstrom?page=0").status_code == 400
        assert c.get("/authors/Zoe%20Angstrom?page=%C2%B2").status_code == 400


def test_author_page_is_paged(settings: Settings, database: Database) -> None:
    settings = settings.model_copy(update={"page_size": 2})
    for n in range(1, 6):
        add_entry(database, f"2503.0010{n}", FRIDAY, authors=["Pat Prolific"],
                  published_at=dt.datetime(2025, 3, n))  # fmt: skip
    with TestClient(create_app(settings, database)) as c:
        first = c.get("/authors/Pat%20Prolific")
        assert "5 papers" in first.text and "Page 1 of 3" in first.text
        assert 'href="/authors/Pat%20Prolific?page=2"' in first.text
        third = c.get("/authors/Pat%20Prolific?page=3").text
        assert re.findall(r'class="stretch" href="/papers/([^"]+)"', third) == ["2503.00101"]
        api = c.get("/api/authors/pat prolific", params={"p": 1, "limit": 2}).json()
        assert api["total"] == 5 and api["name"] == "Pat Prolific"
        assert [p["id"] for p in api["papers"]] == ["2503.00103", "2503.00102"]


def test_author_feed_and_json_twin(settings: Settings, database: Database) -> None:
    _names_site(database)
    with TestClient(create_app(settings, database)) as c:
        feed = c.get("/feeds/authors/zoe%20angstrom.atom")
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("application/atom+xml")
        assert feed.text.index("Second by Zoë") < feed.text.index("First by Zoë")
        assert "Not by Zoë" not in feed.text
        assert (
            c.get("/feeds/authors/zoe%20angstrom.xml")
            .headers["content-type"]
            .startswith("application/rss+xml")
        )
        assert c.get("/feeds/authors/Nobody.atom").status_code == 404
        assert '<link rel="self" type="application/atom+xml" href="' in feed.text
        assert "/feeds/authors/zoe%20%20angstrom.atom" in feed.text
        body = c.get("/api/authors/Zo%C3%AB%20%C3%85ngstr%C3%B6m").json()
        assert body["total"] == 2
        assert [p["id"] for p in body["papers"]] == ["2503.00012", "2503.00011"]
        missing = c.get("/api/authors/Nobody")
        assert missing.status_code == 404 and "error" in missing.json()
        assert c.get("/api/authors/%20").status_code == 400
        assert c.get("/api/authors/zoe?limit=0").status_code == 400


def test_organization_page_and_links(settings: Settings, database: Database) -> None:
    _names_site(database)
    with TestClient(create_app(settings, database)) as c:
        paper = c.get("/papers/2503.00011").text
        assert '<a href="/orgs/Invented%20Lab">Invented Lab</a>' in paper
        assert 'class="author" href="/authors/Zo%C3%AB%20%C3%85ngstr%C3%B6m"' in paper
        org = c.get("/orgs/INVENTED%20LAB")
        assert org.status_code == 200
        assert re.findall(r'class="stretch" href="/papers/([^"]+)"', org.text) == [
            "2503.00012",
            "2503.00011",
        ]
        assert c.get("/feeds/orgs/invented lab.atom").status_code == 200
        assert c.get("/api/orgs/Invented Lab").json()["total"] == 2
        assert c.get("/orgs/Zoe%20Angstrom").status_code == 404  # an author, not an org


def test_long_author_lists_are_collapsed_on_cards_and_pages(
    settings: Settings, database: Database
) -> None:
    many = [f"Author Number{n}" for n in range(1, 403)]
    add_entry(database, "2503.00014", FRIDAY, authors=many)
    with TestClient(create_app(settings, database)) as c:
        day = c.get(f"/papers/date/{FRIDAY}").text
        assert "<summary>+399 more</summary>" in day
        page = c.get("/papers/2503.00014").text
        assert "<summary>+390 more</summary>" in page
        head = page.split('<details class="more-authors">')[0]
        assert head.count('class="author"') == 12
        assert page.count('class="author" href="/authors/') == 402  # all there, behind it


# --- link previews, citation, markdown by Accept ----------------------------------------------


def test_paper_page_has_link_preview_meta_and_a_citation(client: TestClient) -> None:
    html = client.get("/papers/2503.00002").text
    assert '<meta property="og:title" content="Lanterns: Tiny Models That Read Maps">' in html
    assert '<meta property="og:url" content="http://' in html  # absolute, from base_url
    assert '<meta name="twitter:card" content="summary">' in html
    assert '<meta name="citation_author" content="Eve Five">' in html
    assert '<pre id="bibtex">@misc{one2025lanterns,' in html
    assert '<button class="btn" type="button" data-copy="bibtex" hidden>' in html
    assert 'href="/papers/2503.00002.bib"' in html
    escaped = client.get("/papers/2503.00005").text  # a title with <script> in it
    assert "<script>alert" not in escaped


def test_bibtex_route(client: TestClient) -> None:
    r = client.get("/papers/2503.00002.bib")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert r.text.startswith("@misc{one2025lanterns,\n  title = {{Lanterns: Tiny Models")
    assert "  author = {Ann One and Ben Two and Cat Three and Dan Four and Eve Five},\n" in r.text
    assert (
        "  eprint = {2503.00002},\n  archivePrefix = {arXiv},\n  primaryClass = {cs.LG}," in r.text
    )
    assert "  doi = {10.1234/invented.5678}," in r.text
    assert r.text.endswith("  url = {https://arxiv.org/abs/2503.00002}\n}\n")
    old = client.get("/papers/hep-th/9901001.bib")
    assert old.status_code == 200 and "eprint = {hep-th/9901001}" in old.text
    assert client.get("/papers/2503.09999.bib").status_code == 404


def test_bibtex_escapes_what_would_break_the_entry(settings: Settings, database: Database) -> None:
    add_entry(database, "2503.00015", FRIDAY, title="Braces } { and 100% $money$ #1 a_b",
              authors=["Ann {Evil}", "Bo\\input"])  # fmt: skip
    with TestClient(create_app(settings, database)) as c:
        bib = c.get("/papers/2503.00015.bib").text
    assert "title = {{Braces \\} \\{ and 100\\% \\$money\\$ \\#1 a\\_b}}" in bib
    assert "author = {Ann \\{Evil\\} and Bo\\textbackslash{}input}" in bib
    assert bib.count("{") - bib.count("\\{") == bib.count("}") - bib.count("\\}")


def test_accept_markdown_answers_the_markdown_twin(client: TestClient) -> None:
    html = client.get("/papers/2503.00002")  # cached now, as HTML
    assert html.headers["content-type"].startswith("text/html")
    assert "Accept" in html.headers["vary"]
    md = client.get("/papers/2503.00002", headers={"Accept": "text/markdown"})
    assert md.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "Accept" in md.headers["vary"]
    assert md.text == client.get("/papers/2503.00002.md").text
    # and the markdown answer is not served to a browser afterwards
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    again = client.get("/papers/2503.00002", headers={"Accept": browser})
    assert again.headers["content-type"].startswith("text/html")
    for accept, markdown in [
        ("text/markdown, text/html;q=0.5", True),
        ("text/markdown;q=0.9, */*;q=0.8", True),
        ("text/html, text/markdown", False),  # a tie: HTML
        ("text/markdown;q=0", False),
        ("text/markdown;q=bad", False),
        ("*/*", False),
    ]:
        r = client.get("/papers/2503.00002", headers={"Accept": accept})
        assert r.headers["content-type"].startswith("text/markdown") is markdown, accept
    missing = client.get("/papers/2503.09999", headers={"Accept": "text/markdown"})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "text/markdown"
    )


def test_any_name_has_a_page_and_a_feed(settings: Settings, database: Database) -> None:
    """One grammar for names: the rest of the path, whatever it holds. A name with a slash
    has a page and a feed; a name ending in .atom or .xml is a page, never read as a feed."""
    add_entry(database, "2503.00021", FRIDAY, title="Slashed", organization="AI/ML Lab",
              authors=["Data.atom", "Ren/Li"])  # fmt: skip
    add_entry(database, "2503.00022", FRIDAY, title="Plain", authors=["Data"])
    with TestClient(create_app(settings, database)) as c:
        paper = c.get("/papers/2503.00021").text
        for href in ("/orgs/AI%2FML%20Lab", "/authors/Data.atom", "/authors/Ren%2FLi"):
            assert f'href="{href}"' in paper
            page = c.get(href)
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert "Slashed" in page.text and "Plain" not in page.text
            feed = c.get(f"/feeds{href}.atom")
            assert feed.headers["content-type"].startswith("application/atom+xml")
            assert "Slashed" in feed.text and "Plain" not in feed.text
            assert c.get(f"/api{href}").json()["total"] == 1
        assert "Plain" in c.get("/feeds/authors/Data.atom").text  # the author "Data"
        assert c.get("/authors/Data.xml").status_code == 404  # no author "Data.xml"
