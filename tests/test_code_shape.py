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


def _unexplained_lazy_imports(path: Path) -> list[str]:
    """Imports inside a function without a ``# lazy: <reason>`` (a comment may head a group
    of imports)."""
    text = path.read_text()
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if not isinstance(inner, ast.Import | ast.ImportFrom):
                continue
            if not _explained(lines, inner.lineno - 1):
                found.append(f"{_name(path)}:{inner.lineno}")
    return found


def _explained(lines: list[str], index: int) -> bool:
    """A ``# lazy:`` comment on the import's line, or above it within its group of imports
    (and a ``try:`` or ``with`` around them)."""
    while index >= 0:
        line = lines[index].strip()
        if "# lazy:" in line:
            return True
        if not line.startswith(("import ", "from ", "try:", "with ")) or index == 0:
            return False
        index -= 1
    return False


def test_lazy_imports_say_why() -> None:
    """Imports live at the top of a module; one inside a function (start-up time, a cycle)
    says why in a ``# lazy:`` comment."""
    found = [where for path in _sources() for where in _unexplained_lazy_imports(path)]
    assert not found, f"function-level imports without a '# lazy: <reason>': {found}"


def test_the_lazy_import_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    import json\n\n    return json\n")
    global SRC
    saved, SRC = SRC, tmp_path
    try:
        assert _unexplained_lazy_imports(sample) == ["sample.py:2"]
    finally:
        SRC = saved
