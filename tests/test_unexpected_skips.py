"""A skip whose reason is not in EXPECTED_SKIPS fails the run (CI must not go green having
quietly left out tests); the expected ones and ``--allow-skips`` keep it green."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # starts pytest twice

PROBE = """
import pytest

def test_needs_a_service():
    pytest.skip("no such service on 127.0.0.1")

def test_other_database():
    pytest.skip("PostgreSQL only: probe")

@pytest.mark.skipif(True, reason="real data not available: probe")
def test_real_data():
    pass
"""


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    plugins = ["-p", "tests.conftest", "-p", "no:cacheprovider", "-p", "no:xdist"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugins, "-q", str(tmp_path / "test_probe.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unexpected_skip_fails_the_run(tmp_path: Path) -> None:
    run = _pytest(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "unexpected skips fail the run" in run.stdout
    assert "test_needs_a_service: no such service on 127.0.0.1" in run.stdout
    assert "test_other_database" not in run.stdout.split("unexpected skips")[-1]
    assert "test_real_data" not in run.stdout.split("unexpected skips")[-1]


def test_allow_skips_keeps_the_run_green(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "--allow-skips")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 skipped" in run.stdout
