"""Fixtures for the ingest tests: invented records, file writers, a CLI runner and a local
HTTP server (127.0.0.1, free port) that plays the arXiv / Daily Papers APIs.

Every title and abstract here is invented for the tests.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result

from paperfeed.cli import cli
from paperfeed.config import Settings


def write_lines(path: Path, rows: list[Any], *, gz: bool = False) -> Path:
    """One JSON value per line; a ``str`` row is written as is (to plant broken lines)."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def paper_line(arxiv_id: str, **over: Any) -> dict[str, Any]:
    """A record shaped like the arxiv-cs-ai-daydayarxiv JSON lines (invented content)."""
    row: dict[str, Any] = {
        "id": arxiv_id,
        "version": "v1",
        "title": f"On the Invented Properties of Test Paper {arxiv_id}",
        "abstract": "We study an invented problem.\nOur method is made up for tests.",
        "authors": ["Alice Inventa", "Bob Fixture"],
        "categories": ["cs.LG", "cs.AI"],
        "primary_category": "cs.LG",
        "comment": "10 pages",
        "published": "2025-01-10 10:00:00 UTC",
        "updated": "2025-01-10 10:00:00 UTC",
    }
    row.update(over)
    return row


@pytest.fixture
def invoke(settings: Settings) -> Callable[..., Result]:
    """Run ``paperfeed ARGS`` in-process against the test database."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # announce more bytes than are sent, then close


@dataclass
class FakeAPI:
    """Answers queued per path, in order; the last one repeats. Records every request."""

    url: str
    queues: dict[str, list[Route]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    responder: Callable[[str, dict[str, list[str]]], Route] | None = None

    def queue(self, path: str, *routes: Route) -> None:
        self.queues.setdefault(path, []).extend(routes)

    def next(self, path: str, query: dict[str, list[str]]) -> Route:
        if self.responder is not None:
            return self.responder(path, query)
        routes = self.queues.get(path) or [Route(404, b"not found")]
        return routes.pop(0) if len(routes) > 1 else routes[0]


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    api = FakeAPI(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            api.requests.append((parts.path, query))
            route = api.next(parts.path, query)
            self.send_response(route.status)
            for k, v in route.headers.items():
                self.send_header(k, v)
            length = len(route.body) * 2 if route.truncate else len(route.body)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            body = route.body[: len(route.body) // 2] if route.truncate else route.body
            self.wfile.write(body)
            if route.truncate:
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api_settings(
    settings: Settings, fake_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings whose arXiv and Daily Papers URLs point at the local fake API, no waiting."""
    from paperfeed.config import get_settings

    monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", f"{fake_api.url}/api/query")
    monkeypatch.setenv("PAPERFEED_DAILY_PAPERS_API_URL", f"{fake_api.url}/api/daily_papers")
    monkeypatch.setenv("PAPERFEED_ARXIV_REQUEST_INTERVAL", "0")
    monkeypatch.setenv("PAPERFEED_HTTP_TIMEOUT", "2")
    get_settings.cache_clear()
    return get_settings()
