"""The ``paperfeed`` command. ``serve`` is the default: ``paperfeed`` alone starts the site.

Every command reads its settings from ``PAPERFEED_*`` (see config.py), so
``PAPERFEED_DATA_DIR`` and ``PAPERFEED_DATABASE_URL`` apply everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from paperfeed.community.commands import users_group
from paperfeed.config import Settings, get_settings
from paperfeed.digest.commands import digest_group, subscribers_group, worker
from paperfeed.search.commands import index
from paperfeed.sources.commands import ingest
from paperfeed.store.db import get_database


class DefaultGroup(click.Group):
    """A group that runs ``serve`` when no subcommand is given."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0].startswith("-") and args[0] not in ("--help", "-h", "--version")):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup)
@click.version_option(package_name="paperfeed")
def cli() -> None:
    """paperfeed: a self-hostable daily research-paper feed."""


@cli.command()
@click.option("--host", default=None, help="Address to bind (default: PAPERFEED_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: PAPERFEED_PORT).")
@click.option("--workers", type=int, default=None, help="Worker processes (PAPERFEED_WORKERS).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Upgrade the database, then serve the site."""
    import uvicorn

    from paperfeed.search.embedder import prepare

    settings = get_settings()
    get_database().upgrade()
    prepare(settings)  # the semantic index's model, exported once before the workers start
    uvicorn.run(**uvicorn_options(settings, host=host, port=port, workers=workers))


def uvicorn_options(
    settings: Settings, *, host: str | None, port: int | None, workers: int | None
) -> dict[str, Any]:
    """The arguments of ``uvicorn.run`` (and ``uvicorn.Config``) for ``serve``."""
    return {
        "app": "paperfeed.web.app:create_app",
        "factory": True,
        "host": host or settings.host,
        "port": port or settings.port,
        "workers": workers or settings.workers,
        "log_level": "info",
        "access_log": False,
        "timeout_worker_healthcheck": settings.worker_healthcheck_seconds,
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
        **proxy_options(settings),
    }


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings from ``PAPERFEED_FORWARDED_ALLOW_IPS``. uvicorn by default
    believes ``X-Forwarded-For`` from loopback, and its ``FORWARDED_ALLOW_IPS`` variable
    could widen that: both are overridden, so only the proxies named here are believed, and
    with none the client is the socket's peer (per-client rate limits count real peers)."""
    trusted = ",".join(ip.strip() for ip in settings.forwarded_allow_ips.split(",") if ip.strip())
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or bring it to the latest schema."""
    database = get_database()
    database.upgrade()
    click.echo(f"database at head: {_redacted(database.url)}")


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(path: Path) -> None:
    """Copy the SQLite database to PATH while it serves, then check the copy."""
    from paperfeed.store.backup import BackupError, backup_sqlite

    database = get_database()
    if not database.is_sqlite:
        raise click.ClickException("db backup copies SQLite databases; for PostgreSQL use pg_dump")
    try:
        result = backup_sqlite(database, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {path} ({result.size_bytes} bytes, integrity_check: ok)")


@cli.command()
@click.option("--reset", is_flag=True, help="Delete all papers and load the demo data again.")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no papers.")
def demo(reset: bool, if_empty: bool) -> None:
    """Fill the database with demo data (remote Daily Papers, arXiv, or generated)."""
    from paperfeed.demo import load_demo

    database = get_database()
    database.upgrade()
    message = load_demo(
        database, get_settings(), reset_first=reset, if_empty=if_empty, echo=click.echo
    )
    click.echo(message)


cli.add_command(ingest)
cli.add_command(users_group)
cli.add_command(index)
cli.add_command(subscribers_group)
cli.add_command(digest_group)
cli.add_command(worker)


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    cli(prog_name="paperfeed")


if __name__ == "__main__":  # pragma: no cover
    main()
