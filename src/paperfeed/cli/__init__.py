"""The ``paperfeed`` command. ``serve`` is the default: ``paperfeed`` alone starts the site.

One module per command group; each parses its options and calls the service functions of
the packages below (``sources``, ``search``, ``community``, ``digest``, ``store``), composing
them where a command does more than one thing ("ingest, then index"). Every command reads
its settings from ``PAPERFEED_*`` (see config.py), so ``PAPERFEED_DATA_DIR`` and
``PAPERFEED_DATABASE_URL`` apply everywhere.
"""

from __future__ import annotations

import click

from paperfeed.cli.database import db_group
from paperfeed.cli.demo import demo_command
from paperfeed.cli.digest import digest_group
from paperfeed.cli.index import index_group
from paperfeed.cli.ingest import ingest_group
from paperfeed.cli.outbox import outbox_group
from paperfeed.cli.papers import papers_group
from paperfeed.cli.recommend import recommend_group
from paperfeed.cli.serve import serve_command
from paperfeed.cli.subscribers import subscribers_group
from paperfeed.cli.users import users_group
from paperfeed.config import get_settings


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


@click.command("worker")
@click.option("--once", is_flag=True, help="One pass (ingest if due, freeze due runs, send).")
def worker_command(once: bool) -> None:
    """Long-running scheduler: ingests new arXiv papers daily and sends each digest at the
    subscriber's chosen hour. Restart-safe: everything it does is in the ledger."""
    # lazy: the scheduler loads the mail renderer and the HTTP client; no other command does
    from paperfeed.cli.worker import run_worker

    run_worker(get_settings(), once=once)


for _command in (
    serve_command,
    db_group,
    demo_command,
    ingest_group,
    papers_group,
    users_group,
    index_group,
    subscribers_group,
    digest_group,
    outbox_group,
    recommend_group,
    worker_command,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="paperfeed")
