"""``paperfeed ingest ...`` subcommands."""

from __future__ import annotations

import click


@click.group()
def ingest() -> None:
    """Load papers into the store."""
