"""The lock files (``make lock``) pin a version of every dependency that pyproject.toml asks
for, one that meets its range: a dependency added to pyproject.toml without running ``make
lock`` fails here, not on a fresh machine's ``make run``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pins(lock: str) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{lock}: not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _unmet(requirements: list[str], pins: dict[str, Version]) -> list[str]:
    unmet = []
    for text in requirements:
        req = Requirement(text)
        pinned = pins.get(canonicalize_name(req.name))
        # A local build (torch's "+cpu") meets "==2.13.0" as pip reads it.
        if pinned is None or not req.specifier.contains(pinned.public, prereleases=True):
            unmet.append(f"{text} (locked: {pinned})")
    return unmet


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", []), ("requirements-dev.lock", ["dev"])]
)
def test_lock_meets_pyproject(lock: str, extras: list[str]) -> None:
    wanted = list(PROJECT["dependencies"])
    for extra in extras:
        wanted += PROJECT["optional-dependencies"][extra]
    unmet = _unmet(wanted, _pins(lock))
    assert not unmet, f"run `make lock`: {lock} does not meet {unmet}"


def test_the_check_sees_a_missing_pin() -> None:
    assert _unmet(["left-pad>=1"], {}) == ["left-pad>=1 (locked: None)"]
    assert _unmet(["fastapi>=0.115"], {"fastapi": Version("0.100")})
