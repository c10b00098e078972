"""Submissions of papers the site does not have: fetched from arXiv in the background.

A loopback HTTP server plays arXiv and holds every request until the test releases it, so the
tests can look at the site while fetches are still running (no timing involved)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow
from tests.community.conftest import login, page_csrf
from tests.factories import add_paper

HOLD_SECONDS = 60  # a held request is released by the test long before this


def _atom(entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>ArXiv Query</title><id>http://arxiv.org/api/invented</id>"
        f"{entries}</feed>"
    ).encode()


def _entry(arxiv_id: str, published: dt.datetime) -> str:
    stamp = published.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}v1</id><updated>{stamp}</updated>"
        f"<published>{stamp}</published><title>Fetched in the Background {arxiv_id}</title>"
        "<summary>An abstract invented for the submission tests.</summary>"
        "<author><name>Ida Invented</name></author></entry>"
    )


class SlowArxiv:
    """Knows the ids in ``known``; answers an empty feed (arXiv's "no such paper") for the
    rest, or HTTP 503 when ``failing``; holds each request until :meth:`release`."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.failing = False
        self.held = 0
        self._changed = threading.Condition()
        self._released = threading.Event()
        self.url = ""

    def wait_for_held(self, n: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.held >= n, timeout=HOLD_SECONDS)

    def release(self) -> None:
        self._released.set()

    def answer(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        with self._changed:
            self.held += 1
            self._changed.notify_all()
        self._released.wait(HOLD_SECONDS)
        if self.failing:
            return 503, b"busy"
        ids = query.get("id_list", [""])[0].split(",")
        yesterday = utcnow() - dt.timedelta(days=1)
        found = [_entry(i, yesterday) for i in ids if i in self.known]
        return 200, _atom("".join(found))


@pytest.fixture
def arxiv() -> Iterator[SlowArxiv]:
    fake = SlowArxiv()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            status, body = fake.answer(parse_qs(urlsplit(self.path).query))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api/query"
    try:
        yield fake
    finally:
        fake.release()
        server.shutdown()
        server.server_close()


@pytest.fixture
def community_settings(community_settings: Settings, arxiv: SlowArxiv) -> Settings:
    """The community settings with arXiv on loopback, no spacing between its requests, and
    timeouts longer than any hold; limits as in the defaults unless a test changes them."""
    return community_settings.model_copy(
        update={
            "arxiv_api_url": arxiv.url,
            "arxiv_request_interval": 0.0,
            "http_timeout": float(HOLD_SECONDS + 30),
            "submission_fetch_seconds": float(HOLD_SECONDS + 30),
            "submission_daily_limit": 50,
            "submission_fetches_per_user": 2,
            "submission_fetches": 4,
        }
    )


def submit(client: TestClient, arxiv_id: str) -> Any:
    return client.post("/submit", data={"csrf_token": page_csrf(client), "arxiv": arxiv_id})


def finish_fetches(client: TestClient) -> None:
    """Wait until the running background fetches are done (each ends within its deadline)."""
    client.app.state.submission_fetcher.close()  # type: ignore[attr-defined]


def test_slow_arxiv_stalls_nothing_and_fetches_are_capped(
    user_client: Callable[..., TestClient], arxiv: SlowArxiv, site_db: Database
) -> None:
    ann, bob, cyd = user_client("ann"), user_client("bob"), user_client("cyd")
    token = page_csrf(ann)

    def post(n: int) -> Any:
        return ann.post("/submit", data={"csrf_token": token, "arxiv": f"2611.{n:05d}"})

    with ThreadPoolExecutor(8) as pool:  # one user's burst of submissions of unknown ids
        answers = list(pool.map(post, range(1, 17)))
    started = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code == 429]
    assert len(started) == 2 and len(refused) == 14
    assert "is being fetched from arXiv in the background" in started[0].text
    assert "papers being fetched from arXiv" in refused[0].text
    arxiv.wait_for_held(2)
    # arXiv holds both fetches; the site answers everything else meanwhile.
    assert ann.get("/api/me").json()["user"] == "ann"
    assert ann.get("/account").status_code == 200
    assert TestClient(ann.app).get("/login").status_code == 200
    login(TestClient(ann.app), "cyd")
    assert submit(bob, "2611.00101").status_code == 200
    assert submit(bob, "2611.00102").status_code == 200
    busy = submit(cyd, "2611.00201")  # four fetches run on the site: the cap
    assert busy.status_code == 429 and "arXiv is busy" in busy.text
    page = ann.get("/submit").text
    assert page.count("fetching from arXiv") == 2
    found, missing = (r.text.split("Fetching ")[1].split(" ")[0] for r in started)
    arxiv.known = {found}
    arxiv.release()
    finish_fetches(ann)
    finish_fetches(bob)
    page = ann.get("/submit").text
    assert f"arXiv has no paper {missing}." in page
    assert f"#paper-{found}\">added to today's list" in page
    today = utcnow().date().isoformat()
    listed = ann.get(f"/api/daily_papers?date={today}&submitter=ann").json()
    assert [i["paper"]["id"] for i in listed] == [found]
    assert submit(cyd, "2611.00201").status_code == 200  # the caps count running fetches only


def test_failed_fetches_count_toward_the_daily_limit(
    user_client: Callable[..., TestClient], arxiv: SlowArxiv, community_settings: Settings
) -> None:
    ann = user_client("ann")
    ann.app.state.settings = community_settings.model_copy(  # type: ignore[attr-defined]
        update={"submission_daily_limit": 2}
    )
    arxiv.failing = True
    arxiv.release()
    for arxiv_id in ("2611.00001", "2611.00002"):
        assert submit(ann, arxiv_id).status_code == 200
        finish_fetches(ann)
    page = ann.get("/submit").text
    assert page.count("arXiv could not be reached") == 2
    third = submit(ann, "2611.00003")
    assert third.status_code == 400 and "the daily limit" in third.text
    assert arxiv.held >= 2  # both were asked of arXiv (and retried), neither added


def test_api_answers_202_with_a_status_to_poll(
    user_client: Callable[..., TestClient], arxiv: SlowArxiv, site_db: Database
) -> None:
    ann = user_client("ann")
    add_paper(site_db, "2611.00500", published_at=utcnow() - dt.timedelta(days=1))
    headers = {"X-CSRF-Token": page_csrf(ann), "Accept": "application/json"}
    known = ann.post("/api/submissions", json={"arxiv": "2611.00500"}, headers=headers)
    assert known.status_code == 201 and known.json()["id"] == "2611.00500"
    arxiv.known = {"2611.00501"}
    pending = ann.post("/api/submissions", json={"arxiv": "2611.00501"}, headers=headers)
    assert pending.status_code == 202
    body = pending.json()
    assert body["status"] == "fetching" and body["id"] == "2611.00501"
    again = ann.post("/api/submissions", json={"arxiv": "2611.00501"}, headers=headers)
    assert again.status_code == 400 and "already" in again.json()["error"]
    other = user_client("bob")
    assert other.get(body["poll"]).status_code == 404  # not bob's to see
    arxiv.release()
    finish_fetches(ann)
    done = ann.get(body["poll"]).json()
    assert done["status"] == "added" and done["message"] is None


def test_a_submit_answers_with_its_own_page_known_paper_confirmed_at_once(
    user_client: Callable[..., TestClient], arxiv: SlowArxiv, site_db: Database
) -> None:
    ann = user_client("ann")
    add_paper(site_db, "2611.00600", published_at=utcnow() - dt.timedelta(days=1))
    r = ann.post(
        "/submit",
        data={"csrf_token": page_csrf(ann), "arxiv": "2611.00600"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/submit/")
    page = ann.get(r.headers["location"])
    today = utcnow().date().isoformat()
    assert "<h1>Added to today's list</h1>" in page.text
    assert f'href="/papers/date/{today}#paper-2611.00600"' in page.text
    assert "Invented paper 2611.00600" in page.text
    assert 'http-equiv="refresh"' not in page.text
    assert arxiv.held == 0  # a paper the site has: arXiv is not asked


def test_a_queued_fetch_page_refreshes_itself_until_done_or_failed(
    user_client: Callable[..., TestClient], arxiv: SlowArxiv
) -> None:
    ann, bob = user_client("ann"), user_client("bob")
    arxiv.known = {"2611.00701"}
    pages = []
    for arxiv_id in ("2611.00701", "2611.00702"):
        r = ann.post(
            "/submit",
            data={"csrf_token": page_csrf(ann), "arxiv": arxiv_id},
            follow_redirects=False,
        )
        assert r.status_code == 303  # answered while arXiv still holds the fetch
        pages.append(r.headers["location"])
    arxiv.wait_for_held(2)
    queued = ann.get(pages[0]).text
    assert "Queued: 2611.00701 is being fetched from arXiv" in queued
    assert '<meta http-equiv="refresh" content="3">' in queued
    assert bob.get(pages[0]).status_code == 404  # not bob's
    arxiv.release()
    finish_fetches(ann)
    done, failed = (ann.get(p).text for p in pages)
    today = utcnow().date().isoformat()
    assert f'href="/papers/date/{today}#paper-2611.00701"' in done
    assert "Fetched in the Background 2611.00701" in done
    assert 'http-equiv="refresh"' not in done
    assert 'role="alert">arXiv has no paper 2611.00702.' in failed
    assert 'http-equiv="refresh"' not in failed
