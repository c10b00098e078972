"""Web modules issue no queries: they call the read model (``paperfeed.papers``) and the
domain packages, which own every statement. A module under ``src/paperfeed/web`` may hold a
session to pass on (``with db.read() as session: papers.day_items(session, day)``), never
use it itself. No exceptions are listed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "src" / "paperfeed" / "web"

# What may be imported from SQLAlchemy: the session's type, for annotations.
ALLOWED_SQLALCHEMY = {("sqlalchemy.orm", "Session")}
# From the models: the clock only (a model class is for building statements).
ALLOWED_MODELS = {"utcnow"}
# Methods that run SQL whatever they are called on.
SQL_METHODS = {"execute", "executemany", "scalar", "scalars", "exec_driver_sql", "fetch_one"}
# Database methods that hand out a session or a cursor.
SESSION_OPENERS = {"read", "quick_read", "write", "raw_write"}
SESSION_TYPES = {"Session", "sqlalchemy.orm.Session"}


def problems(source: str) -> list[str]:
    """What in this module's source issues a query (line: what)."""
    tree = ast.parse(source)
    found = [*_imports(tree), *_calls(tree)]
    sessions = _session_names(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in sessions
        ):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr} (a session used here)")
    return sorted(set(found))


def _imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] == "sqlalchemy"
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] == "sqlalchemy":
                found += [
                    f"{node.lineno}: from {node.module} import {a.name}"
                    for a in node.names
                    if (node.module, a.name) not in ALLOWED_SQLALCHEMY
                ]
            elif node.module == "paperfeed.store.models":
                found += [
                    f"{node.lineno}: from {node.module} import {a.name}"
                    for a in node.names
                    if a.name not in ALLOWED_MODELS
                ]
    return found


def _calls(tree: ast.AST) -> list[str]:
    return [
        f"{node.lineno}: .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SQL_METHODS
    ]


def _session_names(tree: ast.AST) -> set[str]:
    """Names bound to a session or cursor: ``with db.read() as NAME`` and parameters
    annotated ``Session``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                opener = item.context_expr
                if (
                    isinstance(opener, ast.Call)
                    and isinstance(opener.func, ast.Attribute)
                    and opener.func.attr in SESSION_OPENERS
                    and isinstance(item.optional_vars, ast.Name)
                ):
                    names.add(item.optional_vars.id)
        elif isinstance(node, ast.arg) and _is_session_type(node.annotation):
            names.add(node.arg)
    return names


def _is_session_type(annotation: ast.expr | None) -> bool:
    return annotation is not None and ast.unparse(annotation) in SESSION_TYPES


def web_modules() -> list[Path]:
    return sorted(WEB.rglob("*.py"))


def test_the_scan_sees_the_web_package() -> None:
    names = {p.relative_to(WEB).as_posix() for p in web_modules()}
    assert {"feeds.py", "pages/render.py", "pages/community.py", "api/routes.py"} <= names


@pytest.mark.parametrize("path", web_modules(), ids=lambda p: p.relative_to(WEB).as_posix())
def test_web_module_issues_no_queries(path: Path) -> None:
    assert problems(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        "from sqlalchemy import select",
        "from sqlalchemy import func as f",
        "import sqlalchemy",
        "from sqlalchemy.sql import text",
        "from paperfeed.store.models import Paper",
        "def f(db):\n    with db.read() as s:\n        return s.get(1)",
        "def f(session: Session):\n    return session.query(1)",
        "def f(db):\n    with db.raw_write() as cursor:\n        cursor.fetchall()",
        "def f(conn):\n    return conn.execute('SELECT 1')",
    ],
)
def test_the_scan_finds_queries(source: str) -> None:
    assert problems(source)


def test_passing_a_session_on_is_no_query() -> None:
    source = (
        "from sqlalchemy.orm import Session\n"
        "from paperfeed import papers\n"
        "def f(db, day):\n"
        "    with db.read() as session:\n"
        "        return papers.day_items(session, day)\n"
    )
    assert problems(source) == []
