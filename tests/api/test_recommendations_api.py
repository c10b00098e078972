"""/api/recommendations and /api/papers/{id}/not-interested over HTTP: who may call them, what
the answer is made of, how signals change the next answer, privacy between readers, and every
kind of bad query (a 400 with a JSON error, never a 500)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from paperfeed.community import sessions, tokens, users
from paperfeed.config import Settings
from paperfeed.params import BadValue
from paperfeed.recommend import candidates
from paperfeed.store.db import Database
from paperfeed.web.api import recommendations as api
from paperfeed.web.api.schemas import ErrorBody, RecommendedPaper
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, community_settings  # noqa: F401 (fixture)
from tests.recommend import rank_corpus as rc

WHOLE = {"from": "2025-03-01", "to": "2025-03-31", "limit": "200"}


@dataclass
class Reader:
    account: users.Account
    read: str
    write: str

    def auth(self, scope: str = "read") -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, scope)}"}


@dataclass
class Site:
    client: TestClient
    db: Database
    corpus: rc.Corpus
    alice: Reader
    bob: Reader

    def get(self, reader: Reader, **params: str) -> Any:
        r = self.client.get("/api/recommendations", params=params, headers=reader.auth())
        assert r.status_code == 200, r.text
        return r

    def ranked(self, reader: Reader, **params: str) -> list[str]:
        return [p["id"] for p in self.get(reader, **(WHOLE | params)).json()]

    def arxiv(self, topic: str, n: int) -> str:
        return self.corpus.arxiv_of[self.corpus.topics[topic][n]]


def _reader(db: Database, settings: Settings, name: str) -> Reader:
    account = users.create_user(db, settings, name, f"{name}@example.org", PASSWORD)
    read, _ = tokens.create_token(db, account, "r", "read")
    write, _ = tokens.create_token(db, account, "w", "write")
    return Reader(account, read, write)


@pytest.fixture
def site(
    community_settings: Settings,  # noqa: F811
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Site]:
    # New embeddings are seen at once (the corpus is written after the app may have looked).
    monkeypatch.setenv("PAPERFEED_ANN_REFRESH_SECONDS", "0")
    settings = community_settings.model_copy(update={"ann_refresh_seconds": 0.0})
    candidates.forget_pools()
    corpus = rc.build(database, settings)
    alice, bob = _reader(database, settings, "alice"), _reader(database, settings, "bob")
    with TestClient(create_app(settings, database)) as client:
        yield Site(client, database, corpus, alice, bob)
    candidates.forget_pools()


# --- who may call --------------------------------------------------------------------------


def test_a_read_token_gets_recommendations_but_cannot_dismiss(site: Site) -> None:
    r = site.get(site.alice, **WHOLE)
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["x-recommendation-method"] == "trending"
    body = r.json()
    assert len(body) == len(site.corpus.day_of)
    for item in body:
        RecommendedPaper.model_validate(item)
        assert item["reason"] == "trending this week"
    paper = site.client.get(f"/api/papers/{body[0]['id']}").json()
    assert {k: v for k, v in body[0].items() if k not in ("score", "reason")} == paper
    target = f"/api/papers/{site.arxiv('A', 0)}/not-interested"
    for method in ("POST", "DELETE"):
        refused = site.client.request(method, target, headers=site.alice.auth("read"))
        assert refused.status_code == 403
        ErrorBody.model_validate(refused.json())
    assert site.arxiv("A", 0) in site.ranked(site.alice)


def test_no_credentials_is_a_401_and_a_session_works(site: Site) -> None:
    r = site.client.get("/api/recommendations", params=WHOLE)
    assert r.status_code == 401 and "error" in r.json()
    with TestClient(site.client.app) as browser:
        browser.cookies.set("pf_session", sessions.create_session(site.db, site.bob.account, 1))
        assert browser.get("/api/recommendations", params=WHOLE).status_code == 200


def test_a_write_token_dismisses_and_undoes(site: Site) -> None:
    paper = site.arxiv("B", 2)
    assert paper in site.ranked(site.alice)
    url = f"/api/papers/{paper}/not-interested"
    r = site.client.post(url, headers=site.alice.auth("write"))
    assert r.status_code == 200 and r.json() == {"id": paper, "notInterested": True}
    assert site.client.post(url, headers=site.alice.auth("write")).status_code == 200  # again
    assert paper not in site.ranked(site.alice)
    r = site.client.delete(url, headers=site.alice.auth("write"))
    assert r.status_code == 200 and r.json() == {"id": paper, "notInterested": False}
    assert paper in site.ranked(site.alice)


def test_an_unknown_paper_is_a_404(site: Site) -> None:
    for method in ("POST", "DELETE"):
        r = site.client.request(
            method, "/api/papers/2501.99999/not-interested", headers=site.alice.auth("write")
        )
        assert r.status_code == 404 and "2501.99999" in r.json()["error"]


# --- signals change the next answer, and only the reader's -----------------------------------


def test_an_upvote_and_a_dismissal_change_the_next_answer(site: Site) -> None:
    liked = site.arxiv("B", 3)
    r = site.client.post(f"/api/papers/{liked}/upvote", headers=site.alice.auth("write"))
    assert r.status_code == 200
    answer = site.get(site.alice, **WHOLE)
    assert answer.headers["x-recommendation-method"] == "nearest"
    ranked = [p["id"] for p in answer.json()]
    assert liked not in ranked
    b_papers = {site.corpus.arxiv_of[p] for p in site.corpus.topics["B"]}
    assert set(ranked[:11]) == b_papers - {liked}
    assert answer.json()[0]["reason"].startswith("close to “Topic B paper")
    top = ranked[0]
    site.client.post(f"/api/papers/{top}/not-interested", headers=site.alice.auth("write"))
    after = site.ranked(site.alice)
    assert top not in after and after[0] == ranked[1]


def test_other_readers_signals_never_show(site: Site) -> None:
    site.client.post(f"/api/papers/{site.arxiv('A', 1)}/upvote", headers=site.bob.auth("write"))
    before = site.get(site.bob, **WHOLE).json()
    for n in range(4):  # alice's private signals: dismissals
        site.client.post(
            f"/api/papers/{site.arxiv('A', n + 2)}/not-interested",
            headers=site.alice.auth("write"),
        )
    assert site.get(site.alice, **WHOLE).headers["x-recommendation-method"] == "trending"
    assert site.get(site.bob, **WHOLE).json() == before
    assert site.get(site.bob, **WHOLE).headers["x-recommendation-method"] == "nearest"
    assert site.arxiv("A", 1) in site.ranked(site.alice)  # bob's upvote is not alice's


# --- the query -------------------------------------------------------------------------------


def test_limit_and_the_date_range(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(site.ranked(site.alice, limit="3")) == 3
    days = site.ranked(site.alice, **{"from": "2025-03-05", "to": "2025-03-06"})
    assert sorted(days) == sorted(
        site.corpus.arxiv_of[p]
        for p, day in site.corpus.day_of.items()
        if dt.date(2025, 3, 5) <= day <= dt.date(2025, 3, 6)
    )
    # The default: the 7 days that end today (UTC), 50 papers at most.
    monkeypatch.setattr(api, "today", lambda: dt.date(2025, 3, 24))
    week = [p["id"] for p in site.get(site.alice).json()]
    assert sorted(week) == sorted(
        site.corpus.arxiv_of[p]
        for p, day in site.corpus.day_of.items()
        if dt.date(2025, 3, 18) <= day <= dt.date(2025, 3, 24)
    )
    assert (
        site.get(site.alice, **{"from": "", "to": "", "limit": ""}).json()
        == site.get(site.alice).json()
    )


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-3-1"},
        {"to": "2025-02-30"},
        {"from": "1899-12-31"},
        {"from": "２０２５-03-01"},
        {"from": "2025-03-02", "to": "2025-03-01"},
        {"from": "2022-01-01", "to": "2024-12-31"},  # 1,096 days
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "1.5"},
        {"limit": "-1"},
        {"limit": "٣"},
        {"limit": "x" * 41},
    ],
)
def test_bad_queries_are_400s(site: Site, params: dict[str, str]) -> None:
    r = site.client.get("/api/recommendations", params=params, headers=site.alice.auth())
    assert r.status_code == 400, r.text
    ErrorBody.model_validate(r.json())


def test_1000_days_are_allowed() -> None:
    start, end, limit = api.parse_query("2022-01-01", "2024-09-26", "200")
    assert (end - start).days + 1 == 1000 and limit == 200


def _accepted(params: dict[str, str]) -> bool:
    try:
        api.parse_query(params.get("from"), params.get("to"), params.get("limit"))
    except BadValue:
        return False
    return all(len(v) <= 40 for v in params.values())


DAYISH = st.one_of(
    st.dates(dt.date(1890, 1, 1), dt.date(3010, 1, 1)).map(str),
    st.text(max_size=12),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
)
NUMBERISH = st.one_of(st.integers(-5, 300).map(str), st.text(max_size=6))


@hsettings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.fixed_dictionaries({}, optional={"from": DAYISH, "to": DAYISH, "limit": NUMBERISH}))
def test_any_query_is_an_answer_or_a_400(site: Site, params: dict[str, str]) -> None:
    r = site.client.get("/api/recommendations", params=params, headers=site.alice.auth())
    if _accepted(params):
        assert r.status_code == 200, (params, r.text)
        assert isinstance(r.json(), list)
    else:
        assert r.status_code == 400, (params, r.text)
        ErrorBody.model_validate(r.json())
