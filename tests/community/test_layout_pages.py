"""Server side of the reading layout (issue 17): "Add to collection" answered in place or back
to the paper, the list view chosen by a cookie (``/view/{mode}``) and kept apart in the
anonymous page cache, the AI summary as a card's text. The browser side is in
tests/e2e/test_layout_browser.py."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from paperfeed.web.app import create_app
from tests.community.conftest import page_csrf

DAY = "/papers/date/2025-03-07"


def _collection(client: TestClient) -> str:
    r = client.post(
        "/collections",
        data={"csrf_token": page_csrf(client), "name": "Reading list"},
        follow_redirects=False,
    )
    return str(r.headers["location"].rsplit("/", 1)[1])


def test_add_to_collection_answers_json_or_returns_to_the_paper(user_client: Any) -> None:
    ann = user_client("ann")
    cid = _collection(ann)
    form = {"csrf_token": page_csrf(ann), "collection_id": cid, "arxiv_id": "2503.00002"}
    r = ann.post("/collections/add", data=form, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json() == {"added": True, "collection_id": int(cid)}
    r = ann.post("/collections/add", data=form, follow_redirects=False)  # twice: still in
    assert r.status_code == 303
    assert r.headers["location"] == f"/papers/2503.00002?added={cid}#yours"
    page = ann.get(r.headers["location"]).text
    assert f'Added to <a href="/collections/{cid}">Reading list</a>.' in page
    assert "Added to" not in ann.get("/papers/2503.00002").text
    assert ann.get(f"/api/collections/{cid}").json()["numPapers"] == 1


def test_view_switch_sets_a_cookie_and_goes_back(app_client: TestClient) -> None:
    r = app_client.get(f"/view/compact?next={DAY}%3Fpage%3D1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{DAY}?page=1"
    assert r.headers["set-cookie"].startswith("pf_view=compact;")
    assert "SameSite=lax" in r.headers["set-cookie"]
    for bad in ("//evil.example/", "https://evil.example/", ""):
        r = app_client.get("/view/cards", params={"next": bad}, follow_redirects=False)
        assert r.headers["location"] == "/"
    assert app_client.get("/view/tiny").status_code == 404


def test_anonymous_cache_keeps_each_view_apart(
    community_settings: Settings, site_db: Database
) -> None:
    app = create_app(community_settings.model_copy(update={"cache_seconds": 60}), site_db)

    def view_of(cookie: str | None) -> str:
        client = TestClient(app)
        if cookie is not None:
            client.cookies.set("pf_view", cookie)
        html = client.get(DAY).text
        return "compact" if '<ol class="cards compact">' in html else "cards"

    # Each twice: the second answer is the worker's cached page, for that view only.
    assert [view_of(None), view_of(None)] == ["cards", "cards"]
    assert [view_of("compact"), view_of("compact")] == ["compact", "compact"]
    assert [view_of("anything"), view_of(None)] == ["cards", "cards"]
    assert view_of("compact") == "compact"


def test_card_shows_the_ai_summary_instead_of_the_abstract(
    app_client: TestClient, site_db: Database
) -> None:
    with site_db.write() as session:
        session.execute(
            update(Paper).where(Paper.arxiv_id == "2503.00003").values(ai_summary="Short & sweet.")
        )
    html = app_client.get(DAY).text
    card = html.split('id="paper-2503.00003"', 1)[1].split("</li>", 1)[0]
    assert "Short &amp; sweet." in card and "AI summary" in card
    assert "An abstract written for the tests" not in card
    other = html.split('id="paper-2503.00001"', 1)[1].split("</li>", 1)[0]
    assert "An abstract written for the tests" in other
