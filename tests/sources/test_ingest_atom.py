# ruff: noqa: E501  (Atom documents are kept in the exact shape arXiv emits)
"""The arXiv Atom client and the remote Daily Papers fetch against a local HTTP server."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result

from paperfeed.config import Settings
from paperfeed.sources.atom import ArxivAPIError, fetch_arxiv_papers, search_category
from paperfeed.sources.remote import DailyPapersFetchError, fetch_daily_papers
from paperfeed.store.db import Database
from paperfeed.store.models import DailyEntry, Paper

from .conftest import FakeAPI, Route

pytestmark = pytest.mark.network_local

FEED_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?id_list%3D2401.01234" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=&amp;id_list=2401.01234</title>
  <id>http://arxiv.org/api/invented</id>
  <updated>2025-01-01T00:00:00-05:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">10</opensearch:itemsPerPage>
"""


def entry(arxiv_id: str, version: int = 2, published: str = "2024-01-02T18:59:59Z") -> str:
    return f"""  <entry>
    <id>http://arxiv.org/abs/{arxiv_id}v{version}</id>
    <updated>2024-01-09T10:00:00Z</updated>
    <published>{published}</published>
    <title>An Invented Atom Title
  Spanning Two Lines</title>
    <summary>  We invent an abstract for the tests.
It wraps like arXiv's.
</summary>
    <author>
      <name>Ann Example</name>
      <arxiv:affiliation xmlns:arxiv="http://arxiv.org/schemas/atom">Invented University</arxiv:affiliation>
    </author>
    <author>
      <name>Ben Example</name>
    </author>
    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.0000/invented.2</arxiv:doi>
    <link title="doi" href="http://dx.doi.org/10.0000/invented.2" rel="related"/>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">9 pages, invented</arxiv:comment>
    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">Invented J. 3 (2024)</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/{arxiv_id}v{version}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v{version}" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
"""


def feed(*entries: str, total: int | None = None) -> bytes:
    head = FEED_HEAD.format(total=len(entries) if total is None else total)
    return (head + "".join(entries) + "</feed>\n").encode()


ERROR_FEED = (
    FEED_HEAD.format(total=1)
    + """  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.5678</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.5678</summary>
    <updated>2025-01-01T00:00:00-05:00</updated>
    <link href="http://arxiv.org/api/errors#incorrect_id_format_for_1234.5678" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>
</feed>
"""
).encode()


def test_fetch_by_id_parses_atom(fake_api: FakeAPI, api_settings: Settings) -> None:
    fake_api.queue("/api/query", Route(body=feed(entry("2401.01234"), entry("hep-th/9901001", 1))))
    records = fetch_arxiv_papers(["2401.01234", "arXiv:hep-th/9901001"], api_settings)
    path, query = fake_api.requests[0]
    assert path == "/api/query"
    assert query["id_list"] == ["2401.01234,hep-th/9901001"]
    first, second = records
    assert (first.arxiv_id, first.version) == ("2401.01234", 2)
    assert first.title == "An Invented Atom Title Spanning Two Lines"
    assert first.abstract == "We invent an abstract for the tests. It wraps like arXiv's."
    assert first.authors == ["Ann Example", "Ben Example"]
    assert first.categories == ["cs.CL", "cs.AI"] and first.primary_category == "cs.CL"
    assert first.published_at == dt.datetime(2024, 1, 2, 18, 59, 59)
    assert first.updated_at == dt.datetime(2024, 1, 9, 10, 0)
    assert (first.doi, first.comment, first.journal_ref) == (
        "10.0000/invented.2",
        "9 pages, invented",
        "Invented J. 3 (2024)",
    )
    assert second.arxiv_id == "hep-th/9901001"


def test_bad_ids_fail_before_any_request(fake_api: FakeAPI, api_settings: Settings) -> None:
    with pytest.raises(ValueError, match=r"only arxiv\.org"):
        fetch_arxiv_papers(["https://evil.example/abs/2401.01234"], api_settings)
    assert fake_api.requests == []


def test_retry_after_500_then_success(fake_api: FakeAPI, api_settings: Settings) -> None:
    fake_api.queue(
        "/api/query",
        Route(500, b"oops"),
        Route(503, b"busy"),
        Route(body=feed(entry("2401.01234"))),
    )
    (record,) = fetch_arxiv_papers(["2401.01234"], api_settings)
    assert record.arxiv_id == "2401.01234"
    assert len(fake_api.requests) == 3


def test_retries_are_bounded(fake_api: FakeAPI, api_settings: Settings) -> None:
    fake_api.queue("/api/query", Route(500, b"down"))
    with pytest.raises(ArxivAPIError, match="after 4 attempts: HTTP 500"):
        fetch_arxiv_papers(["2401.01234"], api_settings)
    assert len(fake_api.requests) == 4


def test_error_feed(fake_api: FakeAPI, api_settings: Settings) -> None:
    fake_api.queue("/api/query", Route(body=ERROR_FEED))
    with pytest.raises(ArxivAPIError, match="incorrect id format"):
        fetch_arxiv_papers(["2401.01234"], api_settings)
    fake_api.queues.clear()
    fake_api.queue("/api/query", Route(400, ERROR_FEED))
    with pytest.raises(ArxivAPIError, match="HTTP 400: incorrect id format"):
        fetch_arxiv_papers(["2401.01234"], api_settings)


def test_truncated_bodies(fake_api: FakeAPI, api_settings: Settings) -> None:
    # connection closed before Content-Length bytes: retried, then success
    fake_api.queue(
        "/api/query",
        Route(body=feed(entry("2401.01234")), truncate=True),
        Route(body=feed(entry("2401.01234"))),
    )
    assert len(fetch_arxiv_papers(["2401.01234"], api_settings)) == 1
    # a complete HTTP answer with a cut XML document: a clean error
    fake_api.queues.clear()
    fake_api.queue("/api/query", Route(body=feed(entry("2401.01234"))[:700]))
    with pytest.raises(ArxivAPIError, match="unreadable Atom document"):
        fetch_arxiv_papers(["2401.01234"], api_settings)


def test_oversize_body_refused(
    fake_api: FakeAPI, api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("paperfeed.sources.atom.MAX_RESPONSE_BYTES", 10_000)
    from paperfeed.sources import atom

    big = feed(*(entry(f"2401.{i:05d}") for i in range(1, 20)))
    assert len(big) > 10_000
    fake_api.queue("/api/query", Route(body=big))
    with (
        atom.ArxivClient(api_settings, max_bytes=10_000) as client,
        pytest.raises(ArxivAPIError, match="refused"),
    ):
        client.get({"id_list": "2401.01234"})


def test_xml_entities_are_refused(fake_api: FakeAPI, api_settings: Settings) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa">]><feed>&a;</feed>'
    fake_api.queue("/api/query", Route(body=bomb))
    with pytest.raises(ArxivAPIError):
        fetch_arxiv_papers(["2401.01234"], api_settings)


def test_category_since_pages_until_older(fake_api: FakeAPI, api_settings: Settings) -> None:
    def page(path: str, query: dict[str, list[str]]) -> Route:
        start = int(query["start"][0])
        days = [20 - start - i for i in range(2)]  # 2 entries per page, newest first
        entries = [
            entry(f"2401.{start + i + 1:05d}", 1, published=f"2024-01-{d:02d}T12:00:00Z")
            for i, d in enumerate(days)
        ]
        return Route(body=feed(*entries, total=40))

    fake_api.responder = page
    items = search_category("cs.CL", dt.date(2024, 1, 16), api_settings, page_size=2)
    published = [i.record.published_at.day for i in items if i.record and i.record.published_at]
    assert published == [20, 19, 18, 17, 16]
    queries = [q for _p, q in fake_api.requests]
    assert queries[0]["search_query"] == ["cat:cs.CL"]
    assert queries[0]["sortBy"] == ["submittedDate"] and queries[0]["sortOrder"] == ["descending"]
    assert [q["start"][0] for q in queries] == ["0", "2", "4"]
    with pytest.raises(ValueError):
        search_category("cs.CL&x=1", dt.date(2024, 1, 1), api_settings)


def test_cli_arxiv_by_id(
    fake_api: FakeAPI, api_settings: Settings, database: Database, invoke: Callable[..., Result]
) -> None:
    fake_api.queue("/api/query", Route(body=feed(entry("2401.01234"))))
    result = invoke("ingest", "arxiv", "--id", "2401.01234", "--id", "2401.05555")
    assert result.exit_code == 3, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        "read 2, inserted 1, updated 0, unchanged 0, rejected 1"
    )
    assert result.stderr.strip() == "--id:2: 2401.05555 not found on arXiv"
    fake_api.queues.clear()
    fake_api.queue("/api/query", Route(500, b""))
    failed = invoke("ingest", "arxiv", "--id", "2401.01234")
    assert failed.exit_code == 1 and "HTTP 500" in failed.output


DAILY_ITEM = {
    "paper": {
        "id": "2503.04321",
        "authors": [{"name": "Ann Example"}],
        "publishedAt": "2025-03-05T17:59:00.000Z",
        "submittedOnDailyAt": "2025-03-06T01:02:03.456Z",
        "title": "Invented Daily Paper",
        "summary": "Invented.",
        "upvotes": 4,
        "submittedOnDailyBy": {"user": "daily-bot"},
    },
    "numComments": 0,
}


def test_remote_daily_papers(
    fake_api: FakeAPI, api_settings: Settings, database: Database, invoke: Callable[..., Result]
) -> None:
    fake_api.queue("/api/daily_papers", Route(body=json.dumps([DAILY_ITEM]).encode()))
    items = fetch_daily_papers(api_settings, 2, today=dt.date(2025, 3, 6))
    assert [q["date"][0] for _p, q in fake_api.requests] == ["2025-03-06", "2025-03-05"]
    assert all(q["limit"] == ["100"] for _p, q in fake_api.requests)
    assert len(items) == 2 and all(i.record for i in items)
    result = invoke("ingest", "daily-papers", "--remote", "--days", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("read 1, inserted 1, updated 0, unchanged 0, rejected 0")
    with database.read() as s:
        entry_ = s.execute(sa.select(DailyEntry)).scalar_one()
        paper = s.execute(sa.select(Paper)).scalar_one()
    assert entry_.submitted_by == "daily-bot" and entry_.day == dt.date(2025, 3, 6)
    assert paper.imported_upvotes == 4


def test_remote_daily_papers_offline_fails_fast(
    api_settings: Settings, invoke: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperfeed.config import get_settings

    monkeypatch.setenv("PAPERFEED_DAILY_PAPERS_API_URL", "http://127.0.0.1:9/api/daily_papers")
    get_settings.cache_clear()
    with pytest.raises(DailyPapersFetchError, match="not reachable"):
        fetch_daily_papers(get_settings(), 1)
    result = invoke("ingest", "daily-papers", "--remote", "--days", "1")
    assert result.exit_code == 1 and "not reachable" in result.output


def test_cli_arxiv_category_since(
    fake_api: FakeAPI, api_settings: Settings, database: Database, invoke: Callable[..., Result]
) -> None:
    fake_api.queue(
        "/api/query",
        Route(
            body=feed(
                entry("2401.00003", 1, published="2024-01-05T12:00:00Z"),
                entry("2401.00002", 1, published="2024-01-04T12:00:00Z"),
                entry("2401.00001", 1, published="2024-01-02T12:00:00Z"),
                total=3,
            )
        ),
    )
    result = invoke("ingest", "arxiv", "--category", "cs.CL", "--since", "2024-01-03")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == (
        "read 2, inserted 2, updated 0, unchanged 0, rejected 0"
    )
    bad = invoke("ingest", "arxiv", "--category", "cs.CL&evil=1", "--since", "2024-01-03")
    assert bad.exit_code == 2


def test_one_malformed_entry_does_not_sink_the_others(
    fake_api: FakeAPI, api_settings: Settings, database: Database, invoke: Callable[..., Result]
) -> None:
    fake_api.queue(
        "/api/query",
        Route(
            body=feed(
                entry("2401.00002", 1, published="2024-01-05T12:00:00Z"),
                entry("2401.00000", 1, published="2024-01-04T12:00:00Z"),  # sequence 0: invalid
                entry("2401.00001", 1, published="2024-01-04T11:00:00Z"),
                total=3,
            )
        ),
    )
    result = invoke("ingest", "arxiv", "--category", "cs.CL", "--since", "2024-01-03")
    assert result.exit_code == 3, result.output
    assert "2401.00000" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "read 3, inserted 2, updated 0, unchanged 0, rejected 1"
    )
