"""RSS 2.0 and Atom feeds, parsed with feedparser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.factories import add_entry
from tests.web.conftest import FRIDAY, MONDAY, WEDNESDAY

BASE = "https://papers.example.org"


@pytest.fixture
def feed_client(settings: Settings, site: Database) -> TestClient:
    settings.base_url = BASE + "/"
    return TestClient(create_app(settings, site))


def parse(client: TestClient, path: str) -> feedparser.FeedParserDict:
    r = client.get(path)
    assert r.status_code == 200, r.text
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


class _Reader(HTMLParser):
    """What a feed reader that renders HTML shows: the text, and the tags it would make live."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shown(detail: Any) -> tuple[str, list[str]]:
    """A feedparser text construct as a reader displays it: ``(text, live tags)``."""
    if detail.type != "text/html":
        return detail.value, []
    reader = _Reader()
    reader.feed(detail.value)
    reader.close()
    return "".join(reader.text), reader.tags


def ids(parsed: feedparser.FeedParserDict) -> list[str]:
    return [e.link.rsplit("/papers/", 1)[1] for e in parsed.entries]


@pytest.mark.parametrize("suffix", ["xml", "atom"])
def test_day_feed(feed_client: TestClient, suffix: str) -> None:
    parsed = parse(feed_client, f"/feeds/day/{FRIDAY}.{suffix}")
    assert parsed.version == ("rss20" if suffix == "xml" else "atom10")
    assert ids(parsed) == ["2503.00002", "2503.00003", "2503.00001"]
    first = parsed.entries[0]
    assert first.title == "Lanterns: Tiny Models That Read Maps"
    assert first.link == f"{BASE}/papers/2503.00002"
    assert first.id == "https://arxiv.org/abs/2503.00002"
    featured = first.published_parsed if suffix == "xml" else first.updated_parsed
    assert tuple(featured[:5]) == (2025, 3, 7, 10, 0)
    assert [t.term for t in first.tags][:1] == ["cs.LG"]
    names = " ".join(a.get("name", "") for a in first.get("authors", [])) or first.author
    assert "Ann One" in names and "Eve Five" in names
    assert parsed.feed.link == f"{BASE}/papers/date/{FRIDAY}"


def test_rss_dates_are_rfc822_and_guid_is_arxiv(feed_client: TestClient) -> None:
    body = feed_client.get(f"/feeds/day/{FRIDAY}.xml").content
    root = ET.fromstring(body)
    item = root.find("channel/item")
    assert item is not None
    assert item.findtext("pubDate") == "Fri, 07 Mar 2025 10:00:00 +0000"
    guid = item.find("guid")
    assert guid is not None and guid.text == "https://arxiv.org/abs/2503.00002"


def test_atom_dates_are_rfc3339(feed_client: TestClient) -> None:
    body = feed_client.get(f"/feeds/day/{FRIDAY}.atom").text
    assert "<updated>2025-03-07T10:00:00Z</updated>" in body
    assert "<published>2025-03-03T12:00:00Z</published>" in body


@pytest.mark.parametrize("suffix", ["xml", "atom"])
def test_latest_feed_newest_day_first(feed_client: TestClient, suffix: str) -> None:
    parsed = parse(feed_client, f"/feeds/latest.{suffix}")
    # Wednesday, then Monday (by upvotes), then Friday: the latest three days with papers.
    got = ids(parsed)
    assert got[0] == "2503.00006"
    assert got[1:4] == ["2503.00001", "2503.00005", "2503.00004"]  # Monday: 10, 5, 3 votes
    assert got[4:] == ["2503.00002", "2503.00003", "2503.00001"]  # Friday
    one_day = parse(feed_client, f"/feeds/latest.{suffix}?days=1")
    assert ids(one_day) == ["2503.00006"]


def test_latest_feed_days_parameter_is_checked(feed_client: TestClient) -> None:
    assert feed_client.get("/feeds/latest.xml?days=0").status_code == 400
    assert feed_client.get("/feeds/latest.xml?days=x").status_code == 400


@pytest.mark.parametrize("suffix", ["xml", "atom"])
def test_trending_feed(feed_client: TestClient, suffix: str) -> None:
    parsed = parse(feed_client, f"/feeds/trending.{suffix}")
    assert ids(parsed)[0] == "2503.00001"
    assert parsed.feed.link == f"{BASE}/papers/trending"


def test_escaping_and_invalid_characters(settings: Settings, database: Database) -> None:
    add_entry(
        database,
        "2503.00300",
        WEDNESDAY,
        title="Ampersands & <angles> \x0b with a control character",
        abstract="Quotes \" and ' and ]]> end",
        authors=["Zoë <Z> Ørsted"],
    )
    client = TestClient(create_app(settings, database))
    for suffix in ("xml", "atom"):
        parsed = parse(client, f"/feeds/day/{WEDNESDAY}.{suffix}")
        entry = parsed.entries[0]
        assert shown(entry.title_detail) == ("Ampersands & <angles> with a control character", [])
        assert "]]> end" in shown(entry.summary_detail)[0]
        names = " ".join(a.get("name", "") for a in entry.get("authors", [])) or entry.author
        assert "Zoë <Z> Ørsted" in names


HOSTILE_ABSTRACT = "We drop the last <EOS> token. <img src=x onerror=alert(1)> &amp; <b>bold</b>"
HOSTILE_TITLE = "Beyond <script>alert(1)</script> the <EOS> & <i>tags</i>"


@pytest.mark.parametrize("suffix", ["xml", "atom"])
def test_reader_shows_markup_in_imported_text_literally(
    settings: Settings, database: Database, suffix: str
) -> None:
    """RSS readers render ``<description>`` as HTML: text must arrive HTML-escaped, so the
    reader shows ``<EOS>`` and makes no live tag of an ingested ``<img onerror>``."""
    add_entry(database, "2503.00301", WEDNESDAY, title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT)
    client = TestClient(create_app(settings, database))
    entry = parse(client, f"/feeds/day/{WEDNESDAY}.{suffix}").entries[0]
    assert shown(entry.title_detail) == (HOSTILE_TITLE, [])
    summary, tags = shown(entry.summary_detail)
    assert summary == HOSTILE_ABSTRACT + " (0 upvotes)" and tags == []


def test_empty_day_feed_is_valid(feed_client: TestClient) -> None:
    parsed = parse(feed_client, "/feeds/day/2025-03-08.xml")
    assert parsed.entries == []


def test_malformed_day_feed_is_400(feed_client: TestClient) -> None:
    assert feed_client.get("/feeds/day/2025-3-8.xml").status_code == 400


def test_feed_content_types(feed_client: TestClient) -> None:
    assert (
        feed_client.get("/feeds/latest.xml")
        .headers["content-type"]
        .startswith("application/rss+xml")
    )
    assert (
        feed_client.get("/feeds/latest.atom")
        .headers["content-type"]
        .startswith("application/atom+xml")
    )


def test_feed_links_are_discoverable(feed_client: TestClient) -> None:
    html = feed_client.get(f"/papers/date/{MONDAY}").text
    for href in (f"/feeds/day/{MONDAY}.xml", f"/feeds/day/{MONDAY}.atom", "/feeds/latest.xml"):
        assert f'href="{href}"' in html
        assert feed_client.get(href).status_code == 200
