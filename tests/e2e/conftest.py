"""Real headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser) against a
real uvicorn server on a free loopback port, serving a database filled by the factories."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from paperfeed.community.keys import forget_cached_keys
from paperfeed.config import Settings, get_settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.web.conftest import seed_site, set_demo

CHROMIUM = os.environ.get("PAPERFEED_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
OUTPUT_DIR = REPO / "test-output" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
# Cheap Argon2 and generous limits: a browser test signs up and logs in many times.
FAST_ACCOUNTS = {
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "64",
    "RATE_LIMIT_SIGNUP_IP": "1000/minute",
    "RATE_LIMIT_LOGIN_IP": "1000/minute",
}

pytestmark = pytest.mark.e2e
_SHARED: dict[str, Any] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture
def server_settings(settings: Settings) -> Settings:
    """The settings the ``server`` fixture builds its app with; a test module overrides this
    fixture to serve with other settings (the app never re-reads the environment)."""
    return settings


@contextmanager
def settings_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Settings]:
    """Settings read again with ``FAST_ACCOUNTS`` and ``env`` (names without the
    ``PAPERFEED_`` prefix) in the environment: what a module's ``server_settings`` yields."""
    for key, value in {**FAST_ACCOUNTS, **env}.items():
        monkeypatch.setenv(f"PAPERFEED_{key}", value)
    get_settings.cache_clear()
    forget_cached_keys()
    try:
        yield get_settings()
    finally:
        get_settings.cache_clear()


@pytest.fixture
def server(settings: Settings, database: Database, request: pytest.FixtureRequest) -> Iterator[str]:
    """Base URL of a uvicorn server in a background thread, on the seeded test site, built
    with ``server_settings`` (looked up by name, so modules that import this fixture without
    that one still get the plain test settings)."""
    try:
        server_settings: Settings = request.getfixturevalue("server_settings")
    except pytest.FixtureLookupError:
        server_settings = settings
    import uvicorn

    seed_site(database)
    set_demo(database)
    port = _free_port()
    config = uvicorn.Config(
        app=create_app(server_settings, database),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


# Per module, not per session: while Playwright's sync API runs, its event loop is the
# running loop of the main thread, and a later test's asyncio.run() would refuse to start.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is not executable")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if "browser" in _SHARED:
        # A second instance of this fixture while the first is alive (another module's
        # copy): a second sync_playwright() beside the first would fail, so share it.
        yield _SHARED["browser"]
        return
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        _SHARED["browser"] = browser
        try:
            yield browser
        finally:
            _SHARED.pop("browser", None)
            browser.close()
