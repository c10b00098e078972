"""Redis unreachable (nothing listening) or hung (listening, never answering): login,
sign-up, reset and subscribe answer their usual pages, counted by an in-process limiter
(fail open), never a 500; a hung Redis is not waited on for every request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import ratelimit
from paperfeed.community.keys import forget_cached_keys
from paperfeed.community.ratelimit import RateLimiter
from paperfeed.config import Settings, get_settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, csrf_of
from tests.web.conftest import seed_site

if TYPE_CHECKING:
    from httpx2 import Response  # what starlette's TestClient answers with


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connections are refused


@pytest.fixture
def hung_redis() -> Iterator[int]:
    """A listening socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _client(settings: Settings, monkeypatch: pytest.MonkeyPatch, port: int) -> TestClient:
    monkeypatch.setenv("PAPERFEED_REDIS_URL", f"redis://127.0.0.1:{port}/15")
    monkeypatch.setenv("PAPERFEED_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("PAPERFEED_ARGON2_MEMORY_KIB", "64")
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("PAPERFEED_LOGIN_FREE_FAILURES", "3")
    get_settings.cache_clear()
    forget_cached_keys()
    current = get_settings()
    return TestClient(create_app(current, seed_site_db(current)))


def seed_site_db(settings: Settings) -> Database:
    from paperfeed.store.db import get_database

    db = get_database(settings)
    seed_site(db)
    return db


def _post(client: TestClient, path: str, data: dict[str, str]) -> Response:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={**data, "csrf_token": csrf_of(page.text)})


def _every_form(client: TestClient) -> None:
    signup = _post(
        client,
        "/signup",
        {"username": "redis_gone", "email": "gone@example.org", "password": PASSWORD},
    )
    assert signup.status_code == 200, signup.text  # signed up: "check your mail, log in"
    assert "pf_session" not in client.cookies
    for _ in range(3):
        assert (
            _post(client, "/login", {"login": "redis_gone", "password": "wrong!"}).status_code
            == 400
        )
    # The third failure started a wait, kept by the in-process counter: the fourth waits.
    assert _post(client, "/login", {"login": "redis_gone", "password": "wrong!"}).status_code == 429
    assert _post(client, "/reset", {"email": "gone@example.org"}).status_code == 200
    assert _post(client, "/subscribe", {"email": "reader@example.org"}).status_code == 200


@pytest.mark.parametrize("where", ["refused", "hung"])
def test_forms_work_while_redis_is_down(
    settings: Settings,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    hung_redis: int,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    port = _closed_port() if where == "refused" else hung_redis
    with _client(settings, monkeypatch, port) as client:
        _every_form(client)
        limiter: RateLimiter = client.app.state.rate_limiter  # type: ignore[attr-defined]
    # Tried once, then left alone for the retry period (one warning for the outage).
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert limiter._down_until > 0


def test_redis_is_tried_again_after_the_retry_period(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    limiter = RateLimiter(database, settings.model_copy(update={"redis_url": url}))
    limiter.clear("probe", "2/minute", "x")
    calls: list[str] = []
    real: Callable[..., bool] = limiter.limiter.hit

    def failing(*args: object) -> bool:
        calls.append("redis")
        raise ratelimit.StorageError(ConnectionError("injected"))  # type: ignore[attr-defined]

    monkeypatch.setattr(limiter.limiter, "hit", failing)
    assert limiter.hit("probe", "2/minute", "x")  # fail open
    assert limiter.hit("probe", "2/minute", "x")
    assert not limiter.hit("probe", "2/minute", "x")  # the same limit, counted locally
    assert calls == ["redis"]  # not tried again during the retry period
    monkeypatch.setattr(limiter.limiter, "hit", real)
    limiter._down_until = 1.0  # the retry period is over
    assert limiter.hit("probe", "2/minute", "x")  # Redis again, its own count
    assert limiter._down_until == 0.0
    limiter.clear("probe", "2/minute", "x")
