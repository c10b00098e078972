"""A category topic matches a paper from a Hugging Face listing once the metadata fill has
asked arXiv (a loopback server serving an Atom document written here) for its categories."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings, get_settings
from paperfeed.digest import subscriptions as subs
from paperfeed.store.db import Database
from tests.factories import add_entry
from tests.sources.conftest import FakeAPI, Route, fake_api  # noqa: F401
from tests.sources.test_ingest_atom import FEED_HEAD
from tests.sources.test_metadata_fill import atom_entry

pytestmark = pytest.mark.network_local

DAY = dt.date(2025, 3, 14)


def test_a_category_topic_matches_once_the_categories_are_filled(
    digest_settings: Settings,
    digest_db: Database,
    fake_api: FakeAPI,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", f"{fake_api.url}/api/query")
    monkeypatch.setenv("PAPERFEED_ARXIV_REQUEST_INTERVAL", "0")
    get_settings.cache_clear()
    settings = get_settings()
    add_entry(
        digest_db,
        "2503.09997",
        DAY,
        upvotes=3,
        title="Listed Without Categories",
        categories=[],
        primary_category=None,
    )
    prefs = subs.make_prefs(settings, categories=["cs.CL"])
    subs.add(digest_db, settings, "cl@example.org", confirmed=True, prefs=prefs)
    runner = CliRunner()
    args = ["digest", "preview", "cl@example.org", "--date", DAY.isoformat(), "--format", "text"]

    before = runner.invoke(cli, args)
    assert "the digest would be empty" in before.output

    body = FEED_HEAD.format(total=1) + atom_entry("2503.09997", ("cs.CL",)) + "</feed>\n"
    fake_api.queue("/api/query", Route(body=body.encode()))
    filled = runner.invoke(cli, ["papers", "fill-metadata"])
    assert filled.exit_code == 0, filled.output

    after = runner.invoke(cli, args)
    assert after.exit_code == 0, after.output
    assert "Listed Without Categories" in after.output
