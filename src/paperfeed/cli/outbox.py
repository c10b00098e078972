"""``paperfeed outbox …``: the mail of a site with no SMTP relay (``DATA_DIR/outbox``)."""

from __future__ import annotations

import click

from paperfeed.config import get_settings
from paperfeed.mail.outbox import Outbox


@click.group("outbox")
def outbox_group() -> None:
    """Mail written to disk because no SMTP relay is configured."""


@outbox_group.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
def list_messages(limit: int) -> None:
    """The newest messages, tab-separated: file, date, to, subject."""
    box = Outbox.of(get_settings())
    total, entries = box.page(0, limit)
    for e in entries:
        click.echo(f"{e.name}\t{e.when}\t{e.to}\t{e.subject}")
    click.echo(f"{total} message(s) in {box.directory}", err=True)


@outbox_group.command("show")
@click.argument("name")
def show(name: str) -> None:
    """One message's file, as stored."""
    box = Outbox.of(get_settings())
    if box.read(name) is None:
        raise click.ClickException(f"no message {name!r} in {box.directory}")
    click.echo((box.directory / name).read_text("utf-8", "replace"), nl=False)


@outbox_group.command("clear")
@click.option("--keep", type=click.IntRange(0, None), default=0, help="Keep the N newest.")
def clear(keep: int) -> None:
    """Delete the outbox's messages (all, or all but the newest --keep)."""
    box = Outbox.of(get_settings())
    click.echo(f"deleted {box.clear(keep)} message(s) from {box.directory}")
