"""``paperfeed index update|rebuild|status``: this node's derived search indexes.

Both indexes are derived from the database: the keyword index (always) and the semantic one
(when ``paperfeed.search.vectors`` is installed and its embedder is available). ``update``
catches them up by the ``papers.modified_at`` watermark (ingest runs it after every commit,
and whenever they are behind even if it changed nothing, unless ``--no-index``); ``rebuild``
builds them again from scratch; ``status`` shows where they stand. ``--keyword-only`` leaves
the semantic index alone (embedding is the slow part). Semantic updates take a lock shared by
every process and host of the database; a second ``update`` waits for the first, or with
``--no-wait`` skips the semantic index and says so.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from paperfeed.config import Settings, get_settings
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.keyword_sync import IndexBusy
from paperfeed.store.db import Database, get_database
from paperfeed.store.faults import is_disk_full

_keyword_only = click.option(
    "--keyword-only", is_flag=True, help="Only the keyword index (no embedding)."
)
_no_wait = click.option(
    "--no-wait",
    is_flag=True,
    help="When another semantic index update is running, skip it instead of waiting.",
)


@click.group()
def index() -> None:
    """This node's search indexes (derived from the database)."""


def _vectors(settings: Settings) -> Any:
    """The semantic engineer's vector search, or None (module absent or embedder off)."""
    from paperfeed.search.hybrid import vector_search

    return vector_search(settings)


def indexes_behind(database: Database, settings: Settings) -> bool:
    """True when either index lacks papers the database has: the keyword index's watermark
    is older than the newest paper or it holds another number of documents, or papers wait
    to be embedded (an interrupted ingest, a restored database)."""
    if get_keyword_index(settings).is_behind(database):
        return True
    vectors = _vectors(settings)
    if vectors is None:
        return False
    return bool(vectors.pending(database))


def update_indexes(
    database: Database,
    settings: Settings,
    *,
    keyword_only: bool = False,
    echo: bool = True,
    err: bool = False,
    wait: bool = True,
) -> dict[str, dict[str, Any]]:
    """Catch both indexes up with the database; what each did (echoed to stdout, or to
    stderr with ``err``). ``wait=False``: skip the semantic index when another process is
    updating it."""
    out: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    try:
        out["keyword"] = dict(get_keyword_index(settings).update(database))
    except IndexBusy as exc:
        out["keyword"] = {"skipped": str(exc)}
    out["keyword"]["seconds"] = round(time.perf_counter() - started, 2)
    if not keyword_only:
        vectors = _vectors(settings)
        if vectors is None:
            out["semantic"] = {"skipped": "embedder unavailable"}
        else:
            from paperfeed.search.vector_updates import UpdateBusy

            started = time.perf_counter()
            options = {} if wait else {"wait": False}
            try:
                out["semantic"] = dict(
                    vectors.update(database, progress=sys.stderr.isatty(), **options)
                )
            except UpdateBusy as exc:
                out["semantic"] = {"skipped": str(exc)}
            except Exception as exc:  # keyword search goes on; the next update retries
                out["semantic"] = {"failed": f"{type(exc).__name__}: {str(exc)[:200]}"}
            out["semantic"]["seconds"] = round(time.perf_counter() - started, 2)
    if echo:
        for name, stats in out.items():
            line = f"index {name}: " + ", ".join(f"{k} {v}" for k, v in stats.items())
            click.echo(line, err=err)
    return out


@index.command("update")
@_keyword_only
@_no_wait
def update(keyword_only: bool, no_wait: bool) -> None:
    """Index papers added or changed since the last update; drop deleted ones."""
    database = get_database()
    database.upgrade()
    try:
        done = update_indexes(database, get_settings(), keyword_only=keyword_only, wait=not no_wait)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        raise click.ClickException(
            "disk full: the indexes kept what they had committed. Free space, then run "
            "`paperfeed index update` again (it continues where it stopped)."
        ) from exc
    if any("failed" in stats for stats in done.values()):
        sys.exit(1)


@index.command("rebuild")
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
    click.echo("index keyword: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    if keyword_only:
        return
    vectors = _vectors(settings)
    if vectors is None:
        click.echo("index semantic: skipped, embedder unavailable")
        return
    from paperfeed.search.vector_updates import UpdateBusy

    started = time.perf_counter()
    try:
        vstats = dict(vectors.rebuild(database, progress=sys.stderr.isatty(), wait=not no_wait))
    except UpdateBusy as exc:
        click.echo(f"index semantic: skipped, {exc}")
        return
    vstats["seconds"] = round(time.perf_counter() - started, 2)
    click.echo("index semantic: " + ", ".join(f"{k} {v}" for k, v in vstats.items()))


@index.command("status")
def status() -> None:
    """Papers in the database, in each index, and still pending."""
    settings = get_settings()
    database = get_database()
    database.upgrade()
    kw = get_keyword_index(settings).status(database)
    click.echo("index keyword: " + ", ".join(f"{k} {v}" for k, v in kw.items()))
    vectors = _vectors(settings)
    if vectors is None:
        click.echo("index semantic: embedder unavailable (search falls back to keyword only)")
    else:
        sem = vectors.status(database)
        click.echo("index semantic: " + ", ".join(f"{k} {v}" for k, v in sem.items()))
