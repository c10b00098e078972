"""GET /api/daily_papers: every parameter, the orders, the item shape and the 400s."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.api import routes
from paperfeed.web.api.schemas import DailyPaper
from paperfeed.web.app import create_app
from tests.api.conftest import MAR_3, MAR_10, Z_TIME, A, B, C, D, E, F, G, at, ids
from tests.factories import add_entry

DAILY = TypeAdapter(list[DailyPaper])


def get_list(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/daily_papers", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body, list)  # a bare array, as Hugging Face serves it
    DAILY.validate_json(response.content)  # the bytes match the documented schema
    return body


def test_day_is_in_feed_order(client: TestClient) -> None:
    # C has most votes; A and B tie on 10 and B was submitted earlier.
    assert ids(get_list(client, date="2025-03-03")) == [C, B, A]


def test_day_sorted_by_published_at_is_newest_submission_first(client: TestClient) -> None:
    assert ids(get_list(client, date="2025-03-03", sort="publishedAt")) == [C, A, B]


def test_day_sorted_by_trending(client: TestClient) -> None:
    # Same day: 30 votes beat 10; A (08:00) is fresher than B (07:00) with equal votes.
    assert ids(get_list(client, date="2025-03-03", sort="trending")) == [C, A, B]


def test_week_lists_each_paper_once_in_feed_order(client: TestClient) -> None:
    items = get_list(client, week="2025-W10")
    assert ids(items) == [C, B, A, D, G]
    # A appears with its first entry of the week (Monday), not Friday's.
    a = items[2]
    assert a["publishedAt"] == "2025-03-03T08:00:00.000Z"


def test_week_sorted_by_published_at(client: TestClient) -> None:
    assert ids(get_list(client, week="2025-W10", sort="publishedAt")) == [G, D, C, A, B]


def test_week_sorted_by_trending(client: TestClient) -> None:
    # Scored at the week's newest submission (A on Friday 10:00, 36 h half-life):
    # A 10 × 1 = 10, C 30 × 2^(-96.5/36) ≈ 4.7, G 2 × 2^(-2/36) ≈ 1.9,
    # B 10 × 2^(-99/36) ≈ 1.5, D 5 × 2^(-74/36) ≈ 1.2.
    assert ids(get_list(client, week="2025-W10", sort="trending")) == [A, C, G, B, D]


def test_month(client: TestClient) -> None:
    assert ids(get_list(client, month="2025-02")) == [F]
    assert ids(get_list(client, month="2025-03")) == [C, B, A, D, G, E]
    assert get_list(client, month="2024-03") == []


def test_no_period_lists_every_entry_newest_first(client: TestClient) -> None:
    expected = [E, A, G, D, C, A, B, F]
    assert ids(get_list(client)) == expected
    assert ids(get_list(client, sort="publishedAt")) == expected


def test_no_period_trending_is_the_trending_list(client: TestClient) -> None:
    # Reference time = newest submission (10 Mar 08:00), since the data is old; each paper
    # once, scored from its latest entry: A 10 × 2^(-70/36) ≈ 2.6, C 30 × 2^(-166.5/36) ≈ 1.2,
    # E 1, G 2 × 2^(-2) = 0.5, F 50 × 2^(-240/36) ≈ 0.49, B ≈ 0.39, D 5 × 2^(-4) ≈ 0.31.
    assert ids(get_list(client, sort="trending")) == [A, C, E, G, F, B, D]


def test_submitter_filter(client: TestClient) -> None:
    assert ids(get_list(client, date="2025-03-03", submitter="alice")) == [A]
    assert ids(get_list(client, submitter="alice")) == [A, D, A]
    assert ids(get_list(client, week="2025-W10", submitter="alice")) == [A, D]
    assert ids(get_list(client, week="2025-W10", submitter="alice", sort="trending")) == [A, D]
    assert get_list(client, submitter="nobody") == []


def test_pages(client: TestClient) -> None:
    week = {"week": "2025-W10", "limit": 2}
    assert ids(get_list(client, **week)) == [C, B]
    assert ids(get_list(client, **week, p=0)) == [C, B]
    assert ids(get_list(client, **week, p=1)) == [A, D]
    assert ids(get_list(client, **week, p=2)) == [G]
    assert get_list(client, **week, p=3) == []
    assert ids(get_list(client, limit=3, p=1)) == [D, C, A]
    assert ids(get_list(client, sort="trending", limit=2, p=1)) == [E, G]


def test_default_limit_is_50_and_max_100(settings: Settings, database: Database) -> None:
    for n in range(120):
        add_entry(database, f"2504.{n:05d}", MAR_10, upvotes=n % 7)
    with TestClient(create_app(settings, database)) as client:
        assert len(get_list(client)) == 50
        assert len(get_list(client, limit=100)) == 100
        assert len(get_list(client, date="2025-03-10", limit=100, p=1)) == 20


def test_empty_period_values_count_as_absent(client: TestClient) -> None:
    assert ids(get_list(client, date="", week="", month="", submitter="")) == ids(get_list(client))


def test_item_shape(client: TestClient) -> None:
    items = {i["paper"]["id"]: i for i in get_list(client, date="2025-03-03")}
    a = items[A]
    assert a["title"] == "Lattice Lanterns for Recurrent Planners"  # top level, required
    assert a["summary"].startswith("We light recurrent planners")
    assert a["publishedAt"] == "2025-03-03T08:00:00.000Z"  # submission to the daily list
    assert a["numComments"] == 3
    assert a["isAuthorParticipating"] is False
    assert a["submittedBy"]["user"] == "alice"
    assert a["submittedBy"]["type"] == "user"
    assert len(a["submittedBy"]["_id"]) == 24
    assert a["organization"] == {"name": "acme", "fullname": "acme", "avatarUrl": ""}
    paper = a["paper"]
    assert paper["id"] == A
    assert paper["title"] == a["title"]
    assert paper["publishedAt"] == "2025-03-01T17:30:00.000Z"  # arXiv publication
    assert paper["submittedOnDailyAt"] == "2025-03-03T08:00:00.000Z"
    assert paper["upvotes"] == 10
    assert [x["name"] for x in paper["authors"]] == ["Ada Example", "Bo Sample"]
    assert all(x["hidden"] is False and len(x["_id"]) == 24 for x in paper["authors"])
    assert len(paper["discussionId"]) == 24
    assert paper["githubRepo"] == "https://github.com/example/lanterns"
    assert paper["githubStars"] == 42
    assert paper["projectPage"] == "https://example.org/lanterns"
    assert paper["ai_summary"] == "Lanterns help planners."
    assert paper["ai_keywords"] == ["lanterns", "planners"]
    assert paper["submittedOnDailyBy"]["user"] == "alice"
    # Without a submitter or organization those keys are absent, not null.
    c = items[C]
    assert "submittedBy" not in c and "organization" not in c
    assert "submittedOnDailyBy" not in c["paper"]
    assert c["paper"]["githubRepo"] is None


def test_ids_are_stable(client: TestClient) -> None:
    first = get_list(client, date="2025-03-03")
    again = get_list(client, week="2025-W10")
    by_id = {i["paper"]["id"]: i["paper"] for i in again}
    for item in first:
        paper = item["paper"]
        assert paper["discussionId"] == by_id[paper["id"]]["discussionId"]
        assert paper["authors"] == by_id[paper["id"]]["authors"]


def test_timestamps_are_utc_z_with_milliseconds(client: TestClient) -> None:
    for item in get_list(client):
        for value in (
            item["publishedAt"],
            item["paper"]["publishedAt"],
            item["paper"]["submittedOnDailyAt"],
        ):
            assert Z_TIME.match(value), value
    c = next(i for i in get_list(client, date="2025-03-03") if i["paper"]["id"] == C)
    assert c["publishedAt"] == "2025-03-03T09:30:15.250Z"  # truncated to milliseconds


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"limit": "1.5"},
        {"p": -1},
        {"p": "first"},
        {"sort": "upvotes"},
        {"sort": "PublishedAt"},
        {"date": "2025-3-3"},
        {"date": "2025-02-30"},
        {"date": "yesterday"},
        {"date": "2025-03-03T00:00"},
        {"week": "2025-W54"},
        {"week": "2025W10"},
        {"week": "2025-W1"},
        {"month": "2025-13"},
        {"month": "2025-1"},
        {"month": "0000-01"},
        {"date": "2025-03-03", "week": "2025-W10"},
        {"week": "2025-W10", "month": "2025-03"},
        {"submitter": "x" * 65},
    ],
)
def test_bad_parameters_are_400_json(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/api/daily_papers", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]


def test_cached_bytes_are_reused_until_the_ttl(settings: Settings, api_db: Database) -> None:
    cached = settings.model_copy(update={"cache_seconds": 60.0})
    with TestClient(create_app(cached, api_db)) as client:
        before = ids(get_list(client, date="2025-03-10"))
        add_entry(api_db, "2503.00099", MAR_10, upvotes=99, submitted_at=at(MAR_10, 9))
        assert ids(get_list(client, date="2025-03-10")) == before  # served from the cache
        # The key is the normalised query: another page size is another entry.
        assert ids(get_list(client, date="2025-03-10", limit=10)) == ["2503.00099", *before]
        client.app.state.cache.clear()  # type: ignore[attr-defined]
        assert ids(get_list(client, date="2025-03-10")) == ["2503.00099", *before]


def test_concurrent_misses_compute_once(
    settings: Settings, api_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = routes._daily_body

    def counting(*args: Any) -> bytes:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(routes, "_daily_body", counting)
    app = create_app(settings.model_copy(update={"cache_seconds": 60.0}), api_db)

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(
                *(http.get("/api/daily_papers", params={"date": "2025-03-03"}) for _ in range(8))
            )

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert calls == [1]
    assert ids(responses[0].json()) == [C, B, A]
    assert MAR_3.isoformat() in responses[0].json()[0]["publishedAt"]


def test_remembered_queries_still_reject_bad_ones(client: TestClient) -> None:
    # Valid query strings are validated once and remembered; invalid ones never are.
    for _ in range(2):
        assert client.get("/api/daily_papers?date=2025-03-03").status_code == 200
        assert client.get("/api/daily_papers?date=2025-03-03&limit=0").status_code == 400
        assert client.get("/api/daily_papers?limit=0").status_code == 400
    # Repeated parameters: the last one wins (as FastAPI does for scalar parameters).
    assert ids(get_list(client, date=["2025-02-28", "2025-03-03"])) == [C, B, A]
