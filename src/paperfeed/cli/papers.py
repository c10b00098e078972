"""``paperfeed papers fill-metadata``: ask arXiv for what papers lack.

Papers from Hugging Face's listings have no arXiv categories (so no ``cat:`` search or
category topic finds them); this fills those and the other metadata they lack from the
arXiv Atom API (``sources/metadata_fill.py``: 100 ids a request, arXiv's interval between
requests, papers arXiv does not know noted and not asked again for a while), then catches the
search indexes up. ``paperfeed worker`` does the same a bounded number per pass.

A line on stderr after each request (also when not on a terminal: it runs under cron), the
summary on stdout. Exit 1 when arXiv could not be reached (what was filled before is kept).
"""

from __future__ import annotations

import sys
import time

import click

from paperfeed.cli.index import echo_report
from paperfeed.config import get_settings
from paperfeed.search.indexing import catch_up
from paperfeed.sources.metadata_fill import FillStats, count_due, fill_metadata
from paperfeed.store.db import get_database


@click.group("papers")
def papers_group() -> None:
    """Papers already in the store."""


@papers_group.command("fill-metadata")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Ask about at most this many papers (default: every paper lacking categories).",
)
@click.option("--no-index", is_flag=True, help="Do not update the search indexes afterwards.")
def fill_metadata_command(limit: int | None, no_index: bool) -> None:
    """Fill missing arXiv categories and metadata from the arXiv API."""
    settings = get_settings()
    database = get_database()
    database.upgrade()
    due = count_due(database)
    wanted = min(due, limit) if limit is not None else due
    if not wanted:
        click.echo("no paper lacks categories (or all were asked recently)")
        return
    click.echo(f"asking arXiv about {wanted} papers lacking categories", err=True)
    started = time.monotonic()

    def progress(stats: FillStats) -> None:
        click.echo(_progress_line(stats, time.monotonic() - started), err=True)

    stats = fill_metadata(database, settings, limit=wanted, progress=progress)
    if stats.filled and not no_index:
        report = catch_up(database, settings, changed=True, progress=sys.stderr.isatty())
        if report:
            echo_report(report)
    click.echo(stats.summary_line())
    if stats.error:
        click.echo(f"stopped: {stats.error}; run it again later", err=True)
        sys.exit(1)


def _progress_line(stats: FillStats, seconds: float) -> str:
    rate = stats.asked / seconds if seconds > 0 else 0.0
    left = stats.wanted - stats.asked
    eta = f", about {left / rate:.0f} s left" if rate and left else ""
    return (
        f"fill-metadata: {stats.asked}/{stats.wanted} asked, filled {stats.filled}, "
        f"not found {stats.missed}, {rate:.1f} papers/s{eta}"
    )
