"""Claims are rate limited and capped per user; /admin lists pending claims a page at a time."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import claims, users
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import AuthorshipClaim
from tests.community.conftest import page_csrf
from tests.factories import add_paper

AUTHOR = "Ada Example"  # among the factory papers' authors


def _pending_claims(db: Database, username: str, n: int) -> None:
    """``n`` pending claims of ``username`` on new papers, written directly (fast)."""
    account = users.get_account(db, username)
    assert account is not None
    paper_ids = [add_paper(db, f"2612.{k:05d}") for k in range(1, n + 1)]
    with db.write() as session:
        session.add_all(
            AuthorshipClaim(user_id=account.id, paper_id=p, author_name=AUTHOR) for p in paper_ids
        )


def _claim(client: TestClient, arxiv_id: str) -> Any:
    return client.post(
        f"/papers/{arxiv_id}/claim", data={"csrf_token": page_csrf(client), "author_name": AUTHOR}
    )


def test_claims_are_rate_limited(
    user_client: Callable[..., TestClient], community_settings: Settings, site_db: Database
) -> None:
    ann = user_client("ann")
    ann.app.state.settings = community_settings.model_copy(  # type: ignore[attr-defined]
        update={"rate_limit_claims": "2/hour"}
    )
    for k in (1, 2, 3):
        add_paper(site_db, f"2612.0010{k}")
    assert [_claim(ann, f"2612.0010{k}").status_code for k in (1, 2, 3)] == [200, 200, 429]
    assert len(claims.claims(site_db, status="pending")) == 2


def test_pending_claims_per_user_are_capped(
    user_client: Callable[..., TestClient], site_db: Database
) -> None:
    ann = user_client("ann")
    _pending_claims(site_db, "ann", claims.MAX_PENDING)
    add_paper(site_db, "2612.00900")
    refused = _claim(ann, "2612.00900")
    assert refused.status_code == 400 and "waiting for an admin" in refused.text


def test_admin_lists_pending_claims_a_page_at_a_time(
    user_client: Callable[..., TestClient], site_db: Database
) -> None:
    admin, _ann = user_client("root1", admin=True), user_client("ann")
    _pending_claims(site_db, "ann", 60)

    def forms(page: str) -> int:
        return len(re.findall(r'action="/admin/claims/\d+"', page))

    first = admin.get("/admin")
    assert first.status_code == 200 and forms(first.text) == 50
    assert "page 1 of 2" in first.text and 'href="/admin?page=2#claims"' in first.text
    second = admin.get("/admin?page=2").text
    assert forms(second) == 10 and "page 2 of 2" in second
    ids = set(re.findall(r'action="/admin/claims/(\d+)"', first.text + second))
    assert len(ids) == 60  # every claim on exactly one page
    assert forms(admin.get("/admin?page=3").text) == 0


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "abc", "\u0661", "9" * 7, "100001", ""])
def test_admin_page_number_is_parsed_strictly(
    user_client: Callable[..., TestClient], raw: str
) -> None:
    admin = user_client("root1", admin=True)
    r = admin.get("/admin", params={"page": raw})
    assert r.status_code == 400 and "The page is a whole number" in r.text
