"""Issue 17's reader pages: a future day redirects to the latest day with papers; comment
counts say what can be read here and what was imported."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.factories import add_entry
from tests.web.conftest import WEDNESDAY


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
