"""Online backup of the SQLite database, checked before it is reported as written."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperfeed.store.db import Database


class BackupError(Exception):
    pass


@dataclass
class BackupResult:
    path: Path
    size_bytes: int


def backup_sqlite(db: Database, target: Path) -> BackupResult:
    """Copy with SQLite's online backup API (readers and the writer keep going), then run
    ``PRAGMA integrity_check`` on the copy. A failed check removes the copy."""
    if not db.is_sqlite:
        raise BackupError("db backup copies SQLite databases; for PostgreSQL use pg_dump")
    source_path = db.url.split("///", 1)[1]
    target = target.resolve()
    if target == Path(source_path).resolve():
        raise BackupError("the backup path is the database itself")
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new path")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source_path)
    dst = sqlite3.connect(target)
    try:
        src.execute(f"PRAGMA busy_timeout = {30_000}")
        src.backup(dst, pages=4096)
        dst.execute("PRAGMA journal_mode = DELETE")
        row = dst.execute("PRAGMA integrity_check").fetchone()
    finally:
        dst.close()
        src.close()
    if row is None or row[0] != "ok":
        target.unlink(missing_ok=True)
        raise BackupError(f"integrity_check of the copy failed: {row}")
    return BackupResult(path=target, size_bytes=target.stat().st_size)
