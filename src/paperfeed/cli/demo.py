"""``paperfeed demo``: fill the database with demo data (see ``sources/demo.py``), then build
both search indexes for it (keyword and semantic), so that a new site has similar papers and
semantic search from its first page (``make run`` runs this before ``serve``)."""

from __future__ import annotations

import click

from paperfeed.cli.index import echo_report
from paperfeed.config import get_settings
from paperfeed.search.indexing import catch_up
from paperfeed.store.db import get_database


@click.command("demo")
@click.option("--reset", is_flag=True, help="Delete all papers and load the demo data again.")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no papers.")
@click.option("--no-index", is_flag=True, help="Do not build the search indexes afterwards.")
def demo_command(reset: bool, if_empty: bool, no_index: bool) -> None:
    """Fill the database with demo data (remote Daily Papers, arXiv, or generated), then
    build the search indexes for it."""
    # lazy: httpx loads only for the commands that fetch
    from paperfeed.sources.demo import is_demo, load_demo, paper_count

    settings = get_settings()
    database = get_database()
    database.upgrade()
    loads = reset or not if_empty or paper_count(database) == 0
    message = load_demo(database, settings, reset_first=reset, if_empty=if_empty, echo=click.echo)
    click.echo(message)
    # A site that already held papers is indexed here only when it is a demo (one loaded
    # before demos were indexed): a real database's indexes are `paperfeed index update`'s.
    if no_index or not (loads or is_demo(database)):
        return
    report = catch_up(database, settings, changed=loads, progress=True)
    if report is not None:
        echo_report(report)
