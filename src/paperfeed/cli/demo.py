"""``paperfeed demo``: fill the database with demo data (see ``sources/demo.py``)."""

from __future__ import annotations

import click

from paperfeed.config import get_settings
from paperfeed.store.db import get_database


@click.command("demo")
@click.option("--reset", is_flag=True, help="Delete all papers and load the demo data again.")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no papers.")
def demo_command(reset: bool, if_empty: bool) -> None:
    """Fill the database with demo data (remote Daily Papers, arXiv, or generated)."""
    # lazy: httpx loads only for the commands that fetch
    from paperfeed.sources.demo import load_demo

    database = get_database()
    database.upgrade()
    message = load_demo(
        database, get_settings(), reset_first=reset, if_empty=if_empty, echo=click.echo
    )
    click.echo(message)
