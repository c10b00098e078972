"""``paperfeed db upgrade|backup``: database maintenance."""

from __future__ import annotations

from pathlib import Path

import click

from paperfeed.store.backup import BackupError, backup_sqlite
from paperfeed.store.db import get_database


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring it to the latest schema."""
    database = get_database()
    database.upgrade()
    click.echo(f"database at head: {_redacted(database.url)}")


@db_group.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(path: Path) -> None:
    """Copy the SQLite database to PATH while it serves, then check the copy."""
    try:
        result = backup_sqlite(get_database(), path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {path} ({result.size_bytes} bytes, integrity_check: ok)")


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
