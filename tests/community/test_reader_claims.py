"""Claiming authorship lands back on the paper (not on the submit page at the POST's URL),
which says the claim waits; once an admin approves it, the author is marked verified on the
paper's page and on its card, for every reader (the page cache is cleared)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import page_csrf
from tests.web.conftest import FRIDAY

MARK = 'class="verified-author" href="/u/ann"'


def test_a_claim_returns_to_the_paper_and_approval_marks_the_author(
    user_client: Any, community_settings: Settings, site_db: Database
) -> None:
    a, admin = user_client("ann"), user_client("root1", admin=True)
    with TestClient(create_app(community_settings, site_db)) as visitor:
        assert MARK not in visitor.get("/papers/2503.00002").text  # cached now
        r = a.post(
            "/papers/2503.00002/claim",
            data={"csrf_token": page_csrf(a), "author_name": "Ben Two"},
            follow_redirects=False,
        )
        assert (r.status_code, r.headers["location"]) == (303, "/papers/2503.00002#claim")
        page = a.get(r.headers["location"]).text
        assert "Your claim to be Ben Two waits for an admin's approval." in page
        assert 'action="/papers/2503.00002/claim"' not in page  # no second claim form
        claim_id = admin.get("/admin").text.split('action="/admin/claims/')[1].split('"')[0]
        admin.post(
            f"/admin/claims/{claim_id}",
            data={"csrf_token": page_csrf(admin), "decision": "approve"},
        )
        paper = visitor.get("/papers/2503.00002").text
        assert paper.count(MARK) == 1
        marked = paper.split(MARK)[0].rsplit('class="author"', 1)[1]
        assert ">Ben Two</a>" in marked  # the mark follows the claimed name
        card = visitor.get(f"/papers/date/{FRIDAY}").text
        assert card.count(MARK) == 1
        assert (
            "You are a verified author of this paper, as Ben Two."
            in a.get("/papers/2503.00002").text
        )


def test_a_bad_claim_is_answered_on_an_error_page(user_client: Any) -> None:
    a = user_client("ann")
    bad = a.post(
        "/papers/2503.00001/claim", data={"csrf_token": page_csrf(a), "author_name": "Not There"}
    )
    assert bad.status_code == 400 and "author list" in bad.text
