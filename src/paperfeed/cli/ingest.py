"""``paperfeed ingest ...`` subcommands.

Every subcommand streams its input through :func:`paperfeed.sources.pipeline.ingest_records`,
reports each bad record as ``file:line: reason`` on stderr, shows progress on stderr (a bar
on a terminal, a line every few seconds elsewhere: ``paperfeed.progress``), and ends stdout
with exactly
``read N, inserted N, updated N, unchanged N, rejected N``. Exit status: 0, or 3 when
something was rejected, or 4 when the disk filled up (one line on stderr says what is kept).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from paperfeed.cli.index import echo_report
from paperfeed.config import get_settings
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.progress import Progress
from paperfeed.search.indexing import catch_up
from paperfeed.sources.pipeline import IngestStats, ingest_records
from paperfeed.sources.readers import (
    ReadPosition,
    read_arxiv_snapshot,
    read_daily_papers,
    read_jsonl,
)
from paperfeed.sources.records import PaperRecord, ReadItem
from paperfeed.store.db import get_database
from paperfeed.store.faults import is_disk_full

F = TypeVar("F", bound=Callable[..., Any])

EXIT_REJECTED = 3
# The disk or the database filled up: what was committed is kept, the rest was not written.
EXIT_DISK_FULL = 4

_files = click.argument(
    "files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
_strict = click.option(
    "--strict", is_flag=True, help="Stop at the first bad record (what came before is kept)."
)


def _remember_no_index(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta["paperfeed.no_index"] = value
    return value


_no_index = click.option(
    "--no-index",
    is_flag=True,
    expose_value=False,
    callback=_remember_no_index,
    help="Do not update this node's search indexes after the ingest.",
)


def _file_reader(command: F) -> F:
    """The parameters of an ingest that reads files: the files, --strict and --no-index."""
    return _files(_strict(_no_index(command)))


@click.group("ingest")
def ingest_group() -> None:
    """Load papers into the store."""


def run_ingest(
    items: Iterable[ReadItem | PaperRecord], *, strict: bool, position: ReadPosition | None = None
) -> IngestStats:
    """The CLI code path: progress on stderr (its ETA from how far through its files
    ``position`` is), errors on stderr, summary on stdout."""
    database = get_database()
    fraction = position.fraction if position is not None else None
    progress = Progress("ingest", unit="record", stream=sys.stderr, fraction=fraction)

    def on_error(location: str, reason: str) -> None:
        progress.write(f"{location}: {reason}")

    stats = IngestStats()
    try:
        database.upgrade()
        ingest_records(
            database, progress.wrap(items), strict=strict, on_error=on_error, stats=stats
        )
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        _exit_disk_full(stats)
    finally:
        progress.close()
    return stats


def _exit_disk_full(stats: IngestStats) -> NoReturn:
    """One line instead of a traceback: what is kept, and what to do."""
    committed = stats.inserted + stats.updated + stats.unchanged
    click.echo(
        f"disk full: stopped after {stats.read} records read; {committed} are committed "
        f"(inserted {stats.inserted}, updated {stats.updated}, unchanged {stats.unchanged}, "
        f"rejected {stats.rejected}), the batch being written is not. Free space, then run "
        "the same command again (ingest is idempotent: what is stored counts as unchanged).",
        err=True,
    )
    sys.exit(EXIT_DISK_FULL)


def _finish(stats: IngestStats) -> None:
    """Ingest, then index: the search indexes are derived data, brought up to what was just
    committed (or what an interrupted ingest committed before); then the summary line."""
    if not click.get_current_context().meta.get("paperfeed.no_index"):
        try:
            changed = bool(stats.inserted or stats.updated)
            done = catch_up(get_database(), get_settings(), changed=changed, progress=True)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            click.echo(
                f"disk full while updating the search indexes: {stats.summary_line()}, all "
                "committed; the indexes are behind. Free space, then run `paperfeed index "
                "update`.",
                err=True,
            )
            sys.exit(EXIT_DISK_FULL)
        if done is not None:  # reported before the summary, which stays the last line of stdout
            echo_report(done)
    click.echo(stats.summary_line())
    if stats.rejected:
        sys.exit(EXIT_REJECTED)


@ingest_group.command("arxiv-snapshot")
@_file_reader
def arxiv_snapshot(files: tuple[Path, ...], strict: bool) -> None:
    """arXiv's bulk metadata snapshot (JSON lines, plain or .gz)."""
    position = ReadPosition(files)
    _finish(run_ingest(read_arxiv_snapshot(files, position), strict=strict, position=position))


@ingest_group.command("jsonl")
@_file_reader
def jsonl(files: tuple[Path, ...], strict: bool) -> None:
    """Paper records as JSON lines (plain or .gz), common field names understood."""
    position = ReadPosition(files)
    _finish(run_ingest(read_jsonl(files, position), strict=strict, position=position))


@ingest_group.command("daily-papers")
@_file_reader
@click.option("--remote", is_flag=True, help="Fetch the lists from the Daily Papers API.")
@click.option("--days", type=click.IntRange(1, 60), default=3, show_default=True)
def daily_papers(files: tuple[Path, ...], strict: bool, remote: bool, days: int) -> None:
    """Daily Papers listings: the API's JSON array, or JSON lines of (day, paper)."""
    if remote == bool(files):
        raise click.UsageError("give FILE arguments or --remote, not both or neither")
    if remote:
        # lazy: httpx loads only for the commands that fetch
        from paperfeed.sources.remote import DailyPapersFetchError, fetch_daily_papers

        try:
            items = fetch_daily_papers(get_settings(), days=days)
        except DailyPapersFetchError as exc:
            raise click.ClickException(str(exc)) from exc
        _finish(run_ingest(items, strict=strict))
        return
    position = ReadPosition(files)
    _finish(run_ingest(read_daily_papers(files, position), strict=strict, position=position))


@ingest_group.command("arxiv")
@click.option("--id", "ids", multiple=True, help="arXiv id or arxiv.org URL (repeatable).")
@click.option("--category", help="arXiv category, e.g. cs.CL.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Oldest submission day.")
@click.option("--max", "max_results", type=click.IntRange(1, 50_000), default=2000)
@_strict
@_no_index
def arxiv(
    ids: tuple[str, ...],
    category: str | None,
    since: dt.datetime | None,
    max_results: int,
    strict: bool,
) -> None:
    """Fetch papers from the arXiv API: by id, or a category's submissions since a day."""
    # lazy: httpx loads only for the commands that fetch
    from paperfeed.sources.atom import ArxivAPIError, fetch_arxiv_items, search_category

    settings = get_settings()
    if ids and (category or since):
        raise click.UsageError("use --id, or --category with --since, not both")
    if ids:
        for raw in ids:
            try:
                parse_arxiv_id(raw)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--id") from exc
        try:
            items = fetch_arxiv_items(list(ids), settings)
        except ArxivAPIError as exc:
            raise click.ClickException(str(exc)) from exc
    elif category and since:
        try:
            items = search_category(category, since, settings, max_results=max_results)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--category") from exc
        except ArxivAPIError as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        raise click.UsageError("give --id ID..., or --category CAT --since YYYY-MM-DD")
    _finish(run_ingest(items, strict=strict))
