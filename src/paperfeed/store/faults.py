"""Faults of the machine under the store, recognised in one place so that every command
answers them with one line instead of a traceback."""

from __future__ import annotations

import errno
import sqlite3


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) says the disk or the database is full: ENOSPC,
    SQLite's SQLITE_FULL ("database or disk is full"), PostgreSQL's disk_full (53100)."""
    todo: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        code = getattr(current, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_FULL:
            return True
        if getattr(current, "sqlstate", None) == "53100":
            return True
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False
