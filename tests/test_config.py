"""Every setting is documented in README.md, and settings reject what they must."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from paperfeed.config import Settings
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
