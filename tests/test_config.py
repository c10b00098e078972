"""Every setting is documented in README.md, and settings reject what they must."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from paperfeed.cli import serve
from paperfeed.config import Settings, get_settings
from tests.conftest import REPO


def test_every_setting_is_documented_in_readme() -> None:
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `(PAPERFEED_[A-Z0-9_]+)` \|", readme, re.M))
    expected = {f"PAPERFEED_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from README's table"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_env_vars_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_PORT", "9123")
    monkeypatch.setenv("PAPERFEED_DATA_DIR", "/tmp/somewhere")
    monkeypatch.delenv("PAPERFEED_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.port == 9123
    assert settings.sqlalchemy_url == "sqlite:////tmp/somewhere/paperfeed.db"
    assert settings.is_sqlite


@pytest.mark.parametrize(
    "url",
    ["https://evil.example.com/api/query", "file:///etc/passwd", "ftp://export.arxiv.org/x"],
)
def test_remote_hosts_are_fixed(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", url)
    with pytest.raises(ValidationError):
        Settings()


def test_loopback_test_servers_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", "http://127.0.0.1:5555/api/query")
    assert Settings().arxiv_api_url.startswith("http://127.0.0.1")


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", "8000", "http://127.0.0.1:8000"),
        ("127.0.0.1", "8123", "http://127.0.0.1:8123"),
        ("0.0.0.0", "9000", "http://127.0.0.1:9000"),
        ("::", "9000", "http://[::1]:9000"),
        ("papers.lan", "80", "http://papers.lan:80"),
    ],
)
def test_base_url_follows_host_and_port(
    monkeypatch: pytest.MonkeyPatch, host: str, port: str, url: str
) -> None:
    monkeypatch.delenv("PAPERFEED_BASE_URL", raising=False)
    monkeypatch.setenv("PAPERFEED_HOST", host)
    monkeypatch.setenv("PAPERFEED_PORT", port)
    assert Settings().base_url == url


def test_explicit_base_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_PORT", "8123")
    monkeypatch.setenv("PAPERFEED_BASE_URL", "https://papers.example.org")
    assert Settings().base_url == "https://papers.example.org"


def test_serve_port_reaches_the_apps_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve --port`` is what the app's links use (the app reads its settings itself)."""
    monkeypatch.delenv("PAPERFEED_BASE_URL", raising=False)
    # Set first so that the test's end restores them (serve writes them to os.environ).
    monkeypatch.setenv("PAPERFEED_HOST", "127.0.0.1")
    monkeypatch.setenv("PAPERFEED_PORT", "8000")
    try:
        settings = serve._with_bind_address("0.0.0.0", 8765)
        assert settings.base_url == "http://127.0.0.1:8765"
        assert get_settings().base_url == "http://127.0.0.1:8765"
    finally:
        get_settings.cache_clear()
