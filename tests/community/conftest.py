"""Fixtures for the community tests: cheap Argon2 parameters, a seeded site, users, and a
client that logs in through the real forms (so cookies and CSRF tokens are real too)."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import users
from paperfeed.community.keys import forget_cached_keys
from paperfeed.config import Settings, get_settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.web.conftest import seed_site

PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def community_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAPERFEED_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("PAPERFEED_ARGON2_MEMORY_KIB", "64")
    monkeypatch.setenv("PAPERFEED_SECRET_KEY", "test-secret-key-not-for-production")
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_SIGNUP_IP", "1000/minute")
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_LOGIN_IP", "1000/minute")
    monkeypatch.setenv("PAPERFEED_RATE_LIMIT_COMMENTS", "1000/minute")
    get_settings.cache_clear()
    forget_cached_keys()
    return get_settings()


@pytest.fixture
def site_db(community_settings: Settings, database: Database) -> Database:
    seed_site(database)
    return database


@pytest.fixture
def app_client(community_settings: Settings, site_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(community_settings, site_db)) as c:
        yield c


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def login(client: TestClient, login_name: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"login": login_name, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    return client


@pytest.fixture
def make_user(community_settings: Settings, site_db: Database) -> Callable[..., users.Account]:
    def make(name: str, *, admin: bool = False, verified: bool = False) -> users.Account:
        return users.create_user(
            site_db,
            community_settings,
            name,
            f"{name}@example.org",
            PASSWORD,
            is_admin=admin,
            verified=verified,
        )

    return make


@pytest.fixture
def user_client(
    community_settings: Settings, site_db: Database, make_user: Callable[..., Any]
) -> Iterator[Callable[[str], TestClient]]:
    """A fresh TestClient logged in as a new user ``name`` (created here)."""
    made: list[TestClient] = []

    def make(name: str, *, admin: bool = False) -> TestClient:
        make_user(name, admin=admin)
        client = TestClient(create_app(community_settings, site_db))
        made.append(client)
        return login(client, name)

    yield make
    for c in made:
        c.close()


def page_csrf(client: TestClient, path: str = "/account") -> str:
    return csrf_of(client.get(path).text)


# --- a real SMTP server that records envelopes, and settings that mail to it ---------------


@dataclass
class Envelopes:
    port: int
    got: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.got.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def to(self, address: str) -> list[bytes]:
        return [content for rcpt, content in self.got if address in rcpt]


@pytest.fixture
def envelopes() -> Iterator[Envelopes]:
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = Envelopes(port)
    controller = controller_mod.Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
        asyncio.set_event_loop(None)


@pytest.fixture
def mail_settings(
    settings: Settings, envelopes: Envelopes, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for name, value in {
        "PAPERFEED_SECRET_KEY": "test-secret-key-not-for-production",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(envelopes.port),
        "PAPERFEED_SMTP_TLS": "none",
        "PAPERFEED_SMTP_TIMEOUT": "5",
        "PAPERFEED_MAIL_FROM": "paperfeed@example.org",
        "PAPERFEED_RATE_LIMIT_SUBSCRIBE_IP": "1000/minute",
        "PAPERFEED_EMBEDDING_BACKEND": "off",
        "PAPERFEED_ARGON2_TIME_COST": "1",
        "PAPERFEED_ARGON2_MEMORY_KIB": "64",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return get_settings()
