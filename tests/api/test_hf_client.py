"""The real ``huggingface_hub`` client against a real uvicorn server on loopback.

``HfApi(endpoint=...)`` must read paperfeed's API unchanged: list_daily_papers with every
parameter, list_papers, paper_info and read_paper. No token is sent (checked server-side).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.api.conftest import A, B, C, D, E, F, G

pytestmark = pytest.mark.network_local

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi, constants  # noqa: E402
from huggingface_hub.errors import HfHubHTTPError  # noqa: E402

UTC = dt.UTC


class HeaderRecorder:
    """ASGI middleware that records each request's header names."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[set[str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append({name.decode().lower() for name, _ in scope["headers"]})
        await self.app(scope, receive, send)


@pytest.fixture
def served(settings: Settings, api_db: Database) -> Iterator[tuple[str, HeaderRecorder]]:
    app = HeaderRecorder(create_app(settings, api_db))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def api(
    served: tuple[str, HeaderRecorder], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> Iterator[HfApi]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # A saved token, if any, would live here: point it at an empty folder.
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "stored_tokens"))
    base, recorder = served
    yield HfApi(endpoint=base, token=False)
    assert recorder.seen, "the client never reached the server"
    assert all("authorization" not in headers for headers in recorder.seen)


def paper_ids(papers: Any) -> list[str]:
    return [p.id for p in papers]


def test_list_daily_papers_by_date(api: HfApi) -> None:
    papers = list(api.list_daily_papers(date="2025-03-03"))
    assert paper_ids(papers) == [C, B, A]
    a = papers[2]
    assert a.title == "Lattice Lanterns for Recurrent Planners"
    assert a.summary is not None and a.summary.startswith("We light")
    assert a.upvotes == 10
    assert a.comments == 3
    assert a.published_at == dt.datetime(2025, 3, 1, 17, 30, tzinfo=UTC)
    assert a.submitted_at == dt.datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    assert a.submitted_by is not None and a.submitted_by.username == "alice"
    assert a.organization is not None and a.organization.name == "acme"
    assert a.authors is not None and [x.name for x in a.authors] == ["Ada Example", "Bo Sample"]
    assert papers[0].submitted_at == dt.datetime(2025, 3, 3, 9, 30, 15, 250000, tzinfo=UTC)
    assert papers[0].submitted_by is None


def test_list_daily_papers_periods_and_sorts(api: HfApi) -> None:
    assert paper_ids(api.list_daily_papers(week="2025-W10")) == [C, B, A, D, G]
    assert paper_ids(api.list_daily_papers(month="2025-02")) == [F]
    assert paper_ids(api.list_daily_papers(date="2025-03-03", sort="publishedAt")) == [C, A, B]
    assert paper_ids(api.list_daily_papers(date="2025-03-03", sort="trending")) == [C, A, B]
    assert paper_ids(api.list_daily_papers(sort="trending")) == [A, C, E, G, F, B, D]
    assert paper_ids(api.list_daily_papers()) == [E, A, G, D, C, A, B, F]


def test_list_daily_papers_submitter_and_pages(api: HfApi) -> None:
    assert paper_ids(api.list_daily_papers(submitter="alice")) == [A, D, A]
    assert paper_ids(api.list_daily_papers(week="2025-W10", p=1, limit=2)) == [A, D]
    assert paper_ids(api.list_daily_papers(limit=1)) == [E]


def test_list_daily_papers_bad_parameter_raises(api: HfApi) -> None:
    with pytest.raises(HfHubHTTPError) as info:
        list(api.list_daily_papers(date="2025-02-30"))
    assert info.value.response.status_code == 400


def test_list_papers(api: HfApi) -> None:
    papers = list(api.list_papers(query="lanterns"))
    assert paper_ids(papers) == [A]
    assert papers[0].title == "Lattice Lanterns for Recurrent Planners"
    assert papers[0].upvotes == 10
    assert paper_ids(api.list_papers(query="invented paper", limit=1)) == [F]
    assert list(api.list_papers()) == []


def test_paper_info(api: HfApi) -> None:
    info = api.paper_info(A)
    assert info.id == A
    assert info.title == "Lattice Lanterns for Recurrent Planners"
    assert info.upvotes == 10
    assert info.comments == 3
    assert info.published_at == dt.datetime(2025, 3, 1, 17, 30, tzinfo=UTC)
    assert info.submitted_at == dt.datetime(2025, 3, 7, 10, 0, tzinfo=UTC)
    assert info.submitted_by is not None and info.submitted_by.username == "alice"
    assert info.github_repo == "https://github.com/example/lanterns"
    assert info.github_stars == 42
    assert info.project_page == "https://example.org/lanterns"
    assert info.ai_summary == "Lanterns help planners."
    assert info.ai_keywords == ["lanterns", "planners"]
    assert info.organization is not None and info.organization.name == "acme"
    assert api.paper_info(f"{A}v2").id == A
    assert api.paper_info(G).title == "Old Style Strings"


def test_paper_info_unknown_raises(api: HfApi) -> None:
    with pytest.raises(HfHubHTTPError) as info:
        api.paper_info("2503.99999")
    assert info.value.response.status_code == 404


def test_read_paper(api: HfApi) -> None:
    text = api.read_paper(A)
    assert text.startswith("# Lattice Lanterns for Recurrent Planners")
    assert "## Abstract" in text
    with pytest.raises(HfHubHTTPError):
        api.read_paper("2503.99999")
