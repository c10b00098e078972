"""One reader's way through For you, page and API together: seeds by paste (nearest papers),
upvotes until the learned model takes over, a dismissal, and both the page and the JSON API
following each step with the same method. The mail digest's section and the private feed have
their own end-to-end tests (tests/digest/test_digest_for_you.py, test_for_you_feed.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from paperfeed.community import tokens, users
from paperfeed.config import Settings
from paperfeed.recommend import train
from paperfeed.store.db import Database
from tests.community.conftest import (  # noqa: F401 (fixtures)
    community_settings,
    csrf_of,
    login,
    make_user,
    site_db,
    user_client,
)
from tests.recommend.rank_corpus import Corpus, rank_settings  # noqa: F401 (fixture)
from tests.web.test_for_you_page import CARD, corpus, topic  # noqa: F401 (fixture)
from tests.web.test_for_you_page import arxiv as _arxiv

METHOD = re.compile(r'data-method="(\w+)"')
WHOLE = {"from": "2025-03-01", "to": "2025-03-31", "limit": "200"}


def _topics(corpus: Corpus, arxiv_ids: list[str]) -> list[str]:  # noqa: F811
    return [topic(corpus, a) for a in arxiv_ids]


def _page(client: TestClient) -> tuple[str, list[str]]:
    html = client.get("/for-you?tab=week").text
    found = METHOD.search(html)
    assert found, html[:500]
    return found.group(1), CARD.findall(html)


def _api(client: TestClient, token: str) -> tuple[str, list[dict[str, Any]]]:
    r = client.get(
        "/api/recommendations", params=WHOLE, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    return r.headers["x-recommendation-method"], r.json()


def test_a_reader_seeds_upvotes_and_dismisses_and_page_and_api_follow(
    corpus: Corpus,  # noqa: F811
    user_client: Callable[[str], TestClient],  # noqa: F811
    site_db: Database,  # noqa: F811
    community_settings: Settings,  # noqa: F811
) -> None:
    alice = user_client("alice")
    account = users.get_account(site_db, "alice")
    assert account is not None
    token, _ = tokens.create_token(site_db, account, "script", "read")
    # Nothing yet: trending on both.
    assert _page(alice)[0] == "trending" and _api(alice, token)[0] == "trending"
    # Three topic-B seeds, pasted: the nearest papers, topic B first, seeds left out.
    seeds = [_arxiv(corpus, "B", i) for i in (0, 1, 2)]
    csrf = csrf_of(alice.get("/for-you").text)
    alice.post("/for-you/seeds", data={"text": "\n".join(seeds), "tab": "week", "csrf_token": csrf})
    method, shown = _page(alice)
    api_method, items = _api(alice, token)
    assert method == api_method == "nearest"
    assert _topics(corpus, [i["id"] for i in items[:3]]) == ["B", "B", "B"]
    assert not set(seeds) & {i["id"] for i in items} and not set(seeds) & set(shown)
    # Two upvotes make five positives: the learned model, once trained, ranks both.
    for i in (3, 4):
        vote = {"csrf_token": csrf, "action": "add"}
        assert alice.post(f"/papers/{_arxiv(corpus, 'B', i)}/upvote", data=vote).status_code < 400
    train.rebuild(site_db, community_settings, account.id)
    method, shown = _page(alice)
    api_method, items = _api(alice, token)
    assert method == api_method == "linear"
    ranked = [i["id"] for i in items]
    assert _topics(corpus, ranked[:3]) == ["B", "B", "B"]
    assert all(i["reason"].startswith("close to") for i in items[:3])
    # Not interested in the best one: gone from both, and it stays gone.
    best = ranked[0]
    alice.post(f"/papers/{best}/not-interested", data={"csrf_token": csrf, "next": "/for-you"})
    assert best not in _page(alice)[1]
    assert best not in [i["id"] for i in _api(alice, token)[1]]
