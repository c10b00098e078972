"""Domain code never tests which database it runs on: it asks ``db.ops``
(``store/dialect.py``). This scan keeps the names of the dialects out of every module
outside ``store/`` (and ``config.py``, which builds the default SQLite URL)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "paperfeed"
ALLOWED = {"config.py"}


def _outside_store() -> list[Path]:
    return [
        p
        for p in sorted(SRC.rglob("*.py"))
        if p.relative_to(SRC).parts[0] != "store" and p.relative_to(SRC).as_posix() not in ALLOWED
    ]


def _problems(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr == "is_sqlite":
            found.append(f"{where} reads is_sqlite")
        if isinstance(node, ast.Attribute) and node.attr == "name":
            inner = node.value
            if isinstance(inner, ast.Attribute) and inner.attr in {"dialect", "ops"}:
                found.append(f"{where} reads the dialect's name")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sqlalchemy.dialects"
        ):
            found.append(f"{where} imports {node.module}")
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "sqlalchemy"
            and any(a.name == "dialects" for a in node.names)
        ):
            found.append(f"{where} imports sqlalchemy.dialects")
    return found


def test_no_dialect_tests_outside_store() -> None:
    problems = [p for path in _outside_store() for p in _problems(path)]
    assert not problems, "ask db.ops instead (store/dialect.py):\n" + "\n".join(problems)


def test_the_scan_sees_a_dialect_test(tmp_path: Path) -> None:
    """The scan itself can fail: it flags each of the forms it looks for."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from sqlalchemy.dialects import sqlite\n"
        "def f(db, conn):\n"
        "    return db.is_sqlite or conn.dialect.name == 'sqlite'\n"
    )
    global SRC
    saved, SRC = SRC, tmp_path
    try:
        assert len(_problems(sample)) == 3
    finally:
        SRC = saved
