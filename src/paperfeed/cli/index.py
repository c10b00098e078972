"""``paperfeed index update|rebuild|status``: this node's derived search indexes.

``update`` catches them up with the database (ingest runs it after every commit, and
whenever they are behind even if it changed nothing, unless ``--no-index``), and counts the
words of papers that lack them for the For you term model (``recommend.terms.fill``; search
itself knows nothing of recommend: this command composes the two); ``rebuild``
builds them again from scratch; ``status`` shows where they stand. ``--keyword-only`` leaves
the semantic index alone (embedding is the slow part). A second semantic update waits for
the first, or with ``--no-wait`` skips the semantic index and says so (see
``search/indexing.py``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

import click

from paperfeed.config import get_settings
from paperfeed.recommend import terms
from paperfeed.search.indexing import Report, semantic_index, update_indexes
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.keyword_sync import IndexBusy
from paperfeed.store.db import get_database
from paperfeed.store.faults import is_disk_full

_keyword_only = click.option(
    "--keyword-only", is_flag=True, help="Only the keyword index (no embedding)."
)
_no_wait = click.option(
    "--no-wait",
    is_flag=True,
    help="When another semantic index update is running, skip it instead of waiting.",
)


@click.group("index")
def index_group() -> None:
    """This node's search indexes (derived from the database)."""


def _line(name: str, stats: Mapping[str, Any]) -> str:
    return f"index {name}: " + ", ".join(f"{k} {v}" for k, v in stats.items())


def echo_report(report: Report) -> None:
    """One line per index: what its update did."""
    for name, stats in report.items():
        click.echo(_line(name, stats))


@index_group.command("update")
@_keyword_only
@_no_wait
def update(keyword_only: bool, no_wait: bool) -> None:
    """Index papers added or changed since the last update; drop deleted ones."""
    database = get_database()
    database.upgrade()
    try:
        done = update_indexes(
            database,
            get_settings(),
            keyword_only=keyword_only,
            wait=not no_wait,
            progress=True,
        )
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        raise click.ClickException(
            "disk full: the indexes kept what they had committed. Free space, then run "
            "`paperfeed index update` again (it continues where it stopped)."
        ) from exc
    echo_report(done)
    started = time.perf_counter()
    counted = terms.fill(database)
    click.echo(
        _line("terms", {"counted": counted, "seconds": round(time.perf_counter() - started, 2)})
    )
    if any("failed" in stats for stats in done.values()):
        sys.exit(1)


@index_group.command("rebuild")
@_keyword_only
@_no_wait
def rebuild(keyword_only: bool, no_wait: bool) -> None:
    """Build the indexes again from the whole database (searches go on meanwhile)."""
    settings = get_settings()
    database = get_database()
    database.upgrade()
    started = time.perf_counter()
    try:
        stats: dict[str, Any] = dict(get_keyword_index(settings).rebuild(database))
    except IndexBusy as exc:
        raise click.ClickException(str(exc)) from exc
    stats["seconds"] = round(time.perf_counter() - started, 2)
    click.echo(_line("keyword", stats))
    if keyword_only:
        return
    vectors = semantic_index(settings)
    if vectors is None:
        click.echo("index semantic: skipped, embedder unavailable")
        return
    # lazy: the vector module (numpy, the ANN library) loads only for the semantic index
    from paperfeed.search.vector_updates import UpdateBusy

    started = time.perf_counter()
    try:
        vstats = dict(vectors.rebuild(database, progress=True, wait=not no_wait))
    except UpdateBusy as exc:
        click.echo(f"index semantic: skipped, {exc}")
        return
    vstats["seconds"] = round(time.perf_counter() - started, 2)
    click.echo(_line("semantic", vstats))


@index_group.command("status")
def status() -> None:
    """Papers in the database, in each index, and still pending."""
    settings = get_settings()
    database = get_database()
    database.upgrade()
    click.echo(_line("keyword", get_keyword_index(settings).status(database)))
    vectors = semantic_index(settings)
    if vectors is None:
        click.echo("index semantic: embedder unavailable (search falls back to keyword only)")
    else:
        click.echo(_line("semantic", vectors.status(database)))
