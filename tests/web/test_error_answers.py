"""Error answers: a 500 keeps the keep-alive connection usable (a real uvicorn server), bad
values are 400s in the caller's format, and the OpenAPI schema documents the 400s."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.access import ACCESS, PUBLIC
from paperfeed.web.app import create_app


def _boom() -> None:
    raise RuntimeError("injected fault")


@pytest.fixture
def server(settings: Settings, site: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A real uvicorn on a free loopback port, serving the app plus two routes that fail
    (listed in the access table, as every route must be)."""
    app: FastAPI = create_app(settings, site)
    for path in ("/boom", "/api/boom"):
        monkeypatch.setitem(ACCESS, ("GET", path), PUBLIC)
    app.add_api_route("/boom", _boom)
    app.add_api_route("/api/boom", _boom)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="critical", lifespan="off", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.mark.parametrize("path", ["/boom", "/api/boom"])
def test_a_500_keeps_the_connection_usable(server: int, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    try:
        conn.request("GET", path)
        failed = conn.getresponse()
        failed.read()
        assert failed.status == 500
        assert (failed.getheader("connection") or "").lower() != "close"
        first_socket = conn.sock
        # The innocent request that failed before: same connection, no reconnect.
        conn.request("GET", "/api/daily_papers?limit=1")
        ok = conn.getresponse()
        ok.read()
        assert ok.status == 200
        assert conn.sock is first_socket and first_socket is not None
    finally:
        conn.close()


def test_similar_limit_0_is_a_documented_400(client: TestClient) -> None:
    r = client.get("/api/papers/2503.00001/similar?limit=0")
    assert r.status_code == 400 and "error" in r.json()
    schema = client.get("/openapi.json").json()
    responses = schema["paths"]["/api/papers/{arxiv_id}/similar"]["get"]["responses"]
    assert "422" not in responses
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert "422" not in operation["responses"] and "400" in operation["responses"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/daily_papers?limit=10" + "0" * 30,
        "/api/daily_papers?limit=%C2%B2",
        "/api/daily_papers?limit=%D9%A3",
        "/api/daily_papers?p=" + "9" * 30,
        "/api/daily_papers?date=9999-12-31",
        "/api/daily_papers?week=9999-W52",
        "/api/daily_papers?month=9999-12",
        "/api/papers/search?q=x&limit=%C2%B2",
        "/api/papers/search?q=x&limit=1" + "0" * 30,
        "/api/papers/search?q=year%3A%C2%B2%C2%B2%C2%B2%C2%B2",
        "/api/papers/2503.00001/similar?limit=%D9%A3",
        "/api/papers/2503.00001%00",
        "/api/papers/search?q=%00",
        "/api/collections/%D9%A3",
        "/api/collections/%C2%B2",
        "/api/collections/1" + "0" * 30,
    ],
)
def test_api_values_out_of_grammar_are_400(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, (url, r.text[:300])
    assert r.json()["error"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/papers/week/2025-W10?page=%C2%B2", "page must be a whole number"),
        ("/papers/week/9999-W52", "years run from 1900 to 2999"),
        ("/papers/month/9999-12", "years run from 1900 to 2999"),
        ("/papers/date/9999-12-31", "years run from 1900 to 2999"),
        ("/feeds/latest.xml?days=%D9%A3", "days must be a whole number"),
        ("/search?q=year%3A%C2%B2%C2%B2%C2%B2%C2%B2", "year must be"),
        ("/search?q=a%00b", "control character (U+0000)"),
        ("/u/a%00b", "control character (U+0000)"),
    ],
)
def test_pages_answer_bad_values_with_a_400(client: TestClient, url: str, message: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, r.text[:300]
    assert message in r.text
