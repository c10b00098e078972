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
        assert 'href="/authors/zoe%20%20angstrom.atom"' in r.text
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
        feed = c.get("/authors/zoe%20angstrom.atom")
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("application/atom+xml")
        assert feed.text.index("Second by Zoë") < feed.text.index("First by Zoë")
        assert "Not by Zoë" not in feed.text
        assert (
            c.get("/authors/zoe%20angstrom.xml")
            .headers["content-type"]
            .startswith("application/rss+xml")
        )
        assert c.get("/authors/Nobody.atom").status_code == 404
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
        assert c.get("/orgs/invented lab.atom").status_code == 200
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
