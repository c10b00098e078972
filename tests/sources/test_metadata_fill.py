# ruff: noqa: E501  (Atom documents are kept in the exact shape arXiv emits)
"""The metadata fill: papers from Hugging Face listings (no arXiv categories) get what they
lack from the arXiv Atom API, played by a local HTTP server serving Atom documents written
here. Politeness (ids per request, a bounded number per run, misses not asked again), the
fill-only rule, the command and the worker step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from click.testing import Result

from paperfeed import papers
from paperfeed.cli.worker import FILL_REST_KEY, fill_if_any
from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.sources import metadata_fill
from paperfeed.sources.metadata_fill import fill_metadata
from paperfeed.sources.pipeline import ingest_records
from paperfeed.sources.records import DailyInfo, PaperRecord
from paperfeed.store.db import Database
from paperfeed.store.meta import get_meta
from paperfeed.store.models import MetadataFillMiss, Paper, utcnow
from tests.factories import add_paper

from .conftest import FakeAPI, Route
from .test_ingest_atom import ERROR_FEED, FEED_HEAD

pytestmark = pytest.mark.network_local

QUERY = "/api/query"


def atom_entry(arxiv_id: str, categories: tuple[str, ...] = ("cs.CL", "cs.LG")) -> str:
    """One entry as arXiv writes it for an id_list query (invented content)."""
    cats = "\n".join(
        f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in categories
    )
    return f"""  <entry>
    <id>http://arxiv.org/abs/{arxiv_id}v3</id>
    <updated>2026-11-20T09:00:00Z</updated>
    <published>2026-11-18T17:30:00Z</published>
    <title>Atom Title of {arxiv_id}, Worded Differently
  Than the Listing</title>
    <summary>  An abstract invented for the fill tests.
</summary>
    <author>
      <name>Quill Invented</name>
    </author>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">12 pages, 3 invented figures</arxiv:comment>
    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">Invented Proc. 7 (2026)</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/{arxiv_id}v3" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v3" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{categories[0]}" scheme="http://arxiv.org/schemas/atom"/>
{cats}
  </entry>
"""


class Arxiv:
    """Answers an id_list query with entries for the ids in ``known`` (arXiv leaves unknown
    ids out), an error feed (HTTP 400) when the list holds an id in ``refused``."""

    def __init__(self, fake: FakeAPI) -> None:
        self.known: dict[str, tuple[str, ...]] = {}
        self.refused: set[str] = set()
        self.asked: list[list[str]] = []
        fake.responder = self.answer

    def answer(self, path: str, query: dict[str, list[str]]) -> Route:
        ids = query["id_list"][0].split(",")
        self.asked.append(ids)
        assert query["max_results"] == [str(len(ids))]
        if self.refused.intersection(ids):
            return Route(400, ERROR_FEED)
        found = [atom_entry(i, self.known[i]) for i in ids if i in self.known]
        head = FEED_HEAD.format(total=len(found))
        return Route(body=(head + "".join(found) + "</feed>\n").encode())


def listing(db: Database, *ids: str) -> None:
    """Papers as a Hugging Face listing gives them: title, authors, day, no categories."""
    day = dt.date(2026, 11, 20)
    ingest_records(
        db,
        [
            PaperRecord(
                arxiv_id=i,
                title=f"Listing Title of {i}",
                abstract="An abstract the listing carried.",
                authors=["Hana Listed", "Ivo Listed"],
                upvotes=4,
                daily=DailyInfo(day=day),
            )
            for i in ids
        ],
    )


def paper(db: Database, arxiv_id: str) -> Paper:
    with db.read() as s:
        found = s.scalar(sa.select(Paper).where(Paper.arxiv_id == arxiv_id))
        assert found is not None
        s.expunge(found)
        return found


def misses(db: Database) -> dict[str, MetadataFillMiss]:
    with db.read() as s:
        rows = s.execute(
            sa.select(Paper.arxiv_id, MetadataFillMiss).join(
                MetadataFillMiss, MetadataFillMiss.paper_id == Paper.id
            )
        ).all()
        for _, row in rows:
            s.expunge(row)
        return {arxiv_id: row for arxiv_id, row in rows}


def test_fills_what_a_listing_lacks_and_notes_papers_arxiv_lacks(
    fake_api: FakeAPI, api_settings: Settings, database: Database
) -> None:
    arxiv = Arxiv(fake_api)
    arxiv.known = {"2611.00011": ("cs.CL", "cs.LG"), "2611.00012": ("stat.ML",)}
    listing(database, "2611.00011", "2611.00012", "2611.00013")
    add_paper(database, "2611.00014", categories=[], primary_category=None)  # written by the ORM
    add_paper(database, "2611.00015")  # has categories: never asked about
    with database.read() as s:
        assert papers.count_unknown_categories(s) == 4

    stats = fill_metadata(database, api_settings, limit=100)

    assert arxiv.asked == [["2611.00014", "2611.00013", "2611.00012", "2611.00011"]]
    assert (stats.wanted, stats.asked, stats.filled, stats.missed) == (4, 4, 2, 2)
    filled = paper(database, "2611.00011")
    assert filled.categories == ["cs.CL", "cs.LG"] and filled.primary_category == "cs.CL"
    assert filled.comment == "12 pages, 3 invented figures"
    assert filled.journal_ref == "Invented Proc. 7 (2026)"
    assert filled.version == 3
    assert filled.published_at == dt.datetime(2026, 11, 18, 17, 30)
    # Only what the paper lacked: the listing's title, abstract, authors and votes stay.
    assert filled.title == "Listing Title of 2611.00011"
    assert filled.abstract == "An abstract the listing carried."
    assert filled.authors == ["Hana Listed", "Ivo Listed"]
    assert filled.imported_upvotes == 4
    assert paper(database, "2611.00012").categories == ["stat.ML"]
    missed = misses(database)
    assert set(missed) == {"2611.00013", "2611.00014"}
    assert missed["2611.00013"].reason == metadata_fill.NOT_FOUND
    assert missed["2611.00013"].attempts == 1
    wait = missed["2611.00013"].retry_after - missed["2611.00013"].tried_at
    assert wait == dt.timedelta(days=1)
    with database.read() as s:
        assert papers.count_unknown_categories(s) == 2

    # The next run asks arXiv nothing: the misses wait for their day.
    again = fill_metadata(database, api_settings, limit=100)
    assert (again.wanted, again.asked) == (0, 0)
    assert len(arxiv.asked) == 1


def test_a_miss_is_asked_again_later_and_waits_longer_each_time(
    fake_api: FakeAPI, api_settings: Settings, database: Database
) -> None:
    arxiv = Arxiv(fake_api)
    listing(database, "2611.00021")
    fill_metadata(database, api_settings, limit=10)
    with database.write() as s:  # its day has come
        s.execute(
            sa.update(MetadataFillMiss).values(retry_after=utcnow() - dt.timedelta(seconds=1))
        )
    fill_metadata(database, api_settings, limit=10)
    assert arxiv.asked == [["2611.00021"], ["2611.00021"]]
    miss = misses(database)["2611.00021"]
    assert miss.attempts == 2 and miss.retry_after - miss.tried_at == dt.timedelta(days=2)

    arxiv.known["2611.00021"] = ("cs.CV",)  # arXiv has it now
    with database.write() as s:
        s.execute(
            sa.update(MetadataFillMiss).values(retry_after=utcnow() - dt.timedelta(seconds=1))
        )
    stats = fill_metadata(database, api_settings, limit=10)
    assert stats.filled == 1 and paper(database, "2611.00021").categories == ["cs.CV"]


def test_batches_of_100_ids_and_the_limit_bounds_a_run(
    fake_api: FakeAPI, api_settings: Settings, database: Database
) -> None:
    arxiv = Arxiv(fake_api)
    ids = [f"2611.{n:05d}" for n in range(1000, 1250)]
    arxiv.known = {i: ("cs.AI",) for i in ids}
    listing(database, *ids)
    seen: list[int] = []
    stats = fill_metadata(
        database, api_settings, limit=230, progress=lambda s: seen.append(s.asked)
    )
    assert [len(a) for a in arxiv.asked] == [100, 100, 30]
    assert seen == [100, 200, 230]
    assert stats.filled == 230
    assert arxiv.asked[0][0] == ids[-1]  # newest rows first
    rest = fill_metadata(database, api_settings, limit=1000)
    assert (rest.asked, rest.filled) == (20, 20)
    with database.read() as s:
        assert papers.count_unknown_categories(s) == 0


def test_an_id_arxiv_refuses_is_found_by_halving_and_noted(
    fake_api: FakeAPI, api_settings: Settings, database: Database
) -> None:
    arxiv = Arxiv(fake_api)
    ids = [f"2611.{n:05d}" for n in range(2000, 2008)]
    arxiv.known = {i: ("cs.RO",) for i in ids}
    arxiv.refused = {"2611.02005"}
    listing(database, *ids)
    stats = fill_metadata(database, api_settings, limit=100)
    assert (stats.filled, stats.missed) == (7, 1)
    missed = misses(database)
    assert list(missed) == ["2611.02005"]
    assert "incorrect id format" in (missed["2611.02005"].reason or "")
    assert ["2611.02005"] in arxiv.asked
    assert len(arxiv.asked) <= 1 + 2 * 3  # log2(8) halvings, two requests each


def test_arxiv_down_stops_the_run_and_notes_no_miss(
    fake_api: FakeAPI, api_settings: Settings, database: Database
) -> None:
    fake_api.queue(QUERY, Route(503, b"busy"))
    listing(database, "2611.00031", "2611.00032")
    stats = fill_metadata(database, api_settings, limit=10)
    assert stats.error is not None and "HTTP 503" in stats.error
    assert (stats.asked, stats.missed) == (0, 0)
    assert misses(database) == {}


def test_command_fills_prints_progress_and_catches_the_index_up(
    fake_api: FakeAPI,
    api_settings: Settings,
    database: Database,
    invoke: Callable[..., Result],
) -> None:
    arxiv = Arxiv(fake_api)
    ids = [f"2611.{n:05d}" for n in range(3000, 3150)]
    arxiv.known = {i: ("cs.CL",) for i in ids[1:]}  # the oldest is unknown to arXiv
    listing(database, *ids)
    assert hybrid.search(database, api_settings, "cat:cs.CL", semantic=False).items == []

    result = invoke("papers", "fill-metadata", "--limit", "120")
    assert result.exit_code == 0, result.output
    assert "asking arXiv about 120 papers lacking categories" in result.stderr
    assert "fill-metadata: 100/120 asked, filled 100, not found 0" in result.stderr
    assert "fill-metadata: 120/120 asked, filled 120, not found 0" in result.stderr
    assert result.stdout.strip().endswith("asked 120 of 120, filled 120, unchanged 0, not found 0")
    found = hybrid.search(database, api_settings, "cat:cs.CL", semantic=False, page_size=200)
    assert found.total == 120

    result = invoke("papers", "fill-metadata")  # the rest; the one arXiv lacks is noted
    assert result.stdout.strip().endswith("asked 30 of 30, filled 29, unchanged 0, not found 1")
    result = invoke("papers", "fill-metadata")
    assert "no paper lacks categories" in result.stdout


def test_command_exits_1_when_arxiv_is_down(
    fake_api: FakeAPI, api_settings: Settings, database: Database, invoke: Callable[..., Result]
) -> None:
    fake_api.queue(QUERY, Route(500, b"down"))
    listing(database, "2611.00041")
    result = invoke("papers", "fill-metadata")
    assert result.exit_code == 1
    assert "stopped: arXiv API failed after 4 attempts: HTTP 500" in result.stderr


def test_worker_step_is_bounded_and_rests_after_a_failure(
    fake_api: FakeAPI, api_settings: Settings, database: Database
) -> None:
    arxiv = Arxiv(fake_api)
    ids = [f"2611.{n:05d}" for n in range(4000, 4120)]
    arxiv.known = {i: ("cs.LG",) for i in ids}
    listing(database, *ids)
    settings = api_settings.model_copy(update={"metadata_fill_per_pass": 110})
    now = dt.datetime(2026, 11, 21, 3, 0)
    stats = fill_if_any(database, settings, now)
    assert stats is not None and (stats.asked, stats.filled) == (110, 110)
    assert [len(a) for a in arxiv.asked] == [100, 10]
    found = hybrid.search(database, settings, "cat:cs.LG", semantic=False, page_size=200)
    assert found.total == 110  # the worker caught the keyword index up

    fake_api.responder = None
    fake_api.queue(QUERY, Route(503, b"busy"))
    failed = fill_if_any(database, settings, now)
    assert failed is not None and failed.error
    assert get_meta(database, FILL_REST_KEY) == (now + dt.timedelta(hours=1)).isoformat()
    asked = len(fake_api.requests)
    assert fill_if_any(database, settings, now + dt.timedelta(minutes=30)) is None
    assert len(fake_api.requests) == asked
    off = settings.model_copy(update={"metadata_fill_per_pass": 0})
    assert fill_if_any(database, off, now + dt.timedelta(hours=2)) is None
    assert len(fake_api.requests) == asked
