"""The worker's daily arXiv ingest, against a loopback server serving Atom documents we wrote."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from paperfeed.cli.worker import ingest_if_due
from paperfeed.config import Settings, get_settings
from paperfeed.search.keyword import get_keyword_index
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from tests.sources.conftest import FakeAPI, Route, api_settings, fake_api  # noqa: F401
from tests.sources.test_ingest_atom import entry, feed

pytestmark = pytest.mark.network_local


def test_worker_ingests_new_arxiv_papers_once_a_day(
    fake_api: FakeAPI,  # noqa: F811
    api_settings: Settings,  # noqa: F811
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPERFEED_WORKER_INGEST_CATEGORIES", "cs.CL")
    monkeypatch.setenv("PAPERFEED_WORKER_INGEST_HOUR", "6")
    get_settings.cache_clear()
    settings = get_settings()
    fake_api.queue(
        "/api/query",
        Route(
            body=feed(
                entry("2611.00002", 1, published="2026-11-28T12:00:00Z"),
                entry("2611.00001", 1, published="2026-11-27T12:00:00Z"),
                entry("2611.00000", 1, published="2026-11-27T13:00:00Z"),  # no such id: rejected
                entry("2611.00003", 1, published="2026-11-20T12:00:00Z"),  # before --since
                total=4,
            )
        ),
    )
    early = dt.datetime(2026, 11, 29, 5, 0)
    assert ingest_if_due(database, settings, early) is False  # before the ingest hour
    assert fake_api.requests == []

    due = dt.datetime(2026, 11, 29, 7, 0)
    assert ingest_if_due(database, settings, due) is True
    with database.read() as s:
        ids = sorted(s.scalars(select(Paper.arxiv_id)))
    assert ids == ["2611.00001", "2611.00002"]
    # Called as a service, then the indexes caught up, as `paperfeed ingest` does.
    assert get_keyword_index(settings).num_docs() == 2
    query = fake_api.requests[0][1]
    assert query["search_query"] == ["cat:cs.CL"]

    asked = len(fake_api.requests)
    assert ingest_if_due(database, settings, due + dt.timedelta(hours=3)) is False  # done today
    assert len(fake_api.requests) == asked
    assert ingest_if_due(database, settings, due + dt.timedelta(days=1)) is True  # next day
