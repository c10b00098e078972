"""scripts/screenshots.py (``make screenshots``) makes README's four screenshots, small PNGs,
from a throw-away demo site: run it into a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a server and real Chromium
README_SHOTS = [
    "day-desktop-light.png",
    "paper-phone-dark.png",
    "search-desktop-light.png",
    "digest-mail.png",
]


def test_script_makes_the_readme_screenshots(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PAPERFEED_CHROMIUM": CHROMIUM}
    env = {k: v for k, v in env.items() if k != "PAPERFEED_DATABASE_URL"}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "screenshots.py"),
            "--out",
            str(tmp_path),
            "--keyword-only",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in README_SHOTS:
        png = (tmp_path / name).read_bytes()
        assert png.startswith(b"\x89PNG") and 5_000 < len(png) < 400_000, (name, len(png))
        assert f"docs/screenshots/{name}" in (REPO / "README.md").read_text()
        assert (REPO / "docs" / "screenshots" / name).stat().st_size < 200_000
