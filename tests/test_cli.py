"""The `paperfeed` command: `serve` is the default and upgrades a new database on start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings, get_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "db", "ingest", "demo"):
        assert name in result.output


@pytest.mark.slow  # a real server process
def test_bare_command_serves_and_creates_database(settings: Settings, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                time.sleep(0.2)
        assert status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    if settings.is_sqlite:
        assert Path(settings.sqlalchemy_url.split("///", 1)[1]).exists()


def test_serve_gives_uvicorn_the_worker_health_check_and_shutdown_times(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    import uvicorn

    from paperfeed.cli.serve import uvicorn_options

    monkeypatch.setenv("PAPERFEED_WORKER_HEALTHCHECK_SECONDS", "90")
    get_settings.cache_clear()
    config = uvicorn.Config(**uvicorn_options(get_settings(), host=None, port=None, workers=3))
    assert config.timeout_worker_healthcheck == 90
    assert config.timeout_graceful_shutdown == 30
    assert config.workers == 3 and config.factory
    monkeypatch.delenv("PAPERFEED_WORKER_HEALTHCHECK_SECONDS")
    defaults = uvicorn.Config(**uvicorn_options(Settings(), host=None, port=None, workers=None))
    assert defaults.timeout_worker_healthcheck == 60
