"""The import layers contract (pyproject.toml, run by ``make lint``) does catch an import
that points up: a copy of the package with one such import added fails it, and the
package as it is passes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(tmp_path: Path, extra_line: str | None) -> subprocess.CompletedProcess[str]:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "src" / "paperfeed",
        tmp_path / "src" / "paperfeed",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    if extra_line:
        with (tmp_path / "src" / "paperfeed" / "store" / "meta.py").open("a") as fh:
            fh.write(f"\n{extra_line}\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}  # this copy, not the install
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(autouse=True)
def _needs_import_linter() -> None:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"import-linter is a dev dependency: {LINT_IMPORTS} is missing")


def test_the_package_keeps_its_layers(tmp_path: Path) -> None:
    done = _lint_imports(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_import_pointing_up_breaks_the_contract(tmp_path: Path) -> None:
    done = _lint_imports(tmp_path, "import paperfeed.web.deps  # store importing web")
    assert done.returncode != 0
    assert "paperfeed.store is not allowed to import paperfeed.web" in done.stdout
