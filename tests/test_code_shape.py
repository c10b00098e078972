"""The tree's shape rules (issue 15): a function fits on a screen, a module does one job.

No function over ``MAX_FUNCTION_LINES`` and no module over ``MAX_MODULE_LINES`` under
``src/paperfeed`` (migrations aside: each is one step, written once), except those listed
below, each with its reason. The database boundary (``store/dialect.py``) and the layers
(import-linter, ``make lint``) are checked elsewhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "paperfeed"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500

# "path" or "path:function" -> why it may be longer.
EXCEPTIONS: dict[str, str] = {}


def _sources() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def _name(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def test_modules_are_short() -> None:
    long = {
        _name(p): n
        for p in _sources()
        if (n := p.read_text().count("\n")) > MAX_MODULE_LINES and _name(p) not in EXCEPTIONS
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_functions_fit_on_a_screen() -> None:
    long: dict[str, int] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            key = f"{_name(path)}:{node.name}"
            if length > MAX_FUNCTION_LINES and key not in EXCEPTIONS:
                long[f"{key} (line {node.lineno})"] = length
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_exceptions_are_still_needed() -> None:
    """An exception whose module or function has shrunk (or gone) is struck from the list."""
    sizes: dict[str, int] = {}
    for path in _sources():
        text = path.read_text()
        sizes[_name(path)] = text.count("\n")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                end = node.end_lineno or node.lineno
                sizes[f"{_name(path)}:{node.name}"] = end - node.lineno + 1
    stale = [
        key
        for key in EXCEPTIONS
        if sizes.get(key, 0) <= (MAX_FUNCTION_LINES if ":" in key else MAX_MODULE_LINES)
    ]
    assert not stale, f"no longer over the limit (strike them): {stale}"
