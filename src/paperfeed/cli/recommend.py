"""``paperfeed recommend …``: rebuild readers' For you models from their signals, and show
one reader's recommendations (an admin's check: the output is that reader's private list)."""

from __future__ import annotations

import datetime as dt

import click
from sqlalchemy import select

from paperfeed.config import get_settings
from paperfeed.recommend import service, terms, train
from paperfeed.store.db import Database, get_database
from paperfeed.store.models import User, utcnow


def _user_id(db: Database, name: str) -> int:
    with db.read() as session:
        user_id = session.scalar(select(User.id).where(User.username == name.strip().lower()))
    if user_id is None:
        raise click.ClickException(f"no user {name!r}")
    return int(user_id)


@click.group("recommend")
def recommend_group() -> None:
    """For you: readers' models and recommendations."""


@recommend_group.command("rebuild")
@click.option("--user", "username", help="Only this reader (username); default: every reader.")
def rebuild(username: str | None) -> None:
    """Retrain readers' models from their signals (models are derived data)."""
    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    user_id = _user_id(db, username) if username else None
    counted = terms.fill(db)  # papers' words the term models need (derived, like the models)
    if counted:
        click.echo(f"counted the terms of {counted} paper(s)")
    count = train.rebuild(db, settings, user_id)
    click.echo(f"rebuilt {count} reader model(s)")


@recommend_group.command("show")
@click.argument("username")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), help="Default: 7 days ago.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), help="Default: today (UTC).")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def show(username: str, start: dt.datetime | None, end: dt.datetime | None, limit: int) -> None:
    """A reader's recommendations, tab-separated: score, arXiv id, title, reason. Nothing
    is recorded as shown to the reader."""
    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    user_id = _user_id(db, username)
    last = end.date() if end else utcnow().date()
    first = start.date() if start else last - dt.timedelta(days=6)
    if first > last:
        raise click.ClickException("--from is after --to")
    found = service.recommend(
        db, settings, user_id, start=first, end=last, limit=limit, record=False
    )
    for rec in found.items:
        click.echo(f"{rec.score:.4f}\t{rec.item.arxiv_id}\t{rec.item.title}\t{rec.reason}")
    click.echo(f"method: {found.method}, {len(found.items)} paper(s)", err=True)
