"""``paperfeed subscribers add|import|list|remove``: the digest's subscribers (admin)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed.cli.digest import PERIOD
from paperfeed.config import get_settings
from paperfeed.digest import DigestError
from paperfeed.digest import subscriptions as subs
from paperfeed.store.db import get_database


@click.group("subscribers")
def subscribers_group() -> None:
    """Digest subscribers (admin)."""


@subscribers_group.command("add")
@click.argument("email")
@click.option("--period", type=PERIOD, default="daily", show_default=True)
@click.option(
    "--confirmed",
    is_flag=True,
    help="Consent was given elsewhere (moving an existing list): no confirmation mail. Logged.",
)
def add(email: str, period: str, confirmed: bool) -> None:
    """Add an address: pending (a confirmation mail goes out) unless --confirmed."""
    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    try:
        view, token = subs.add(db, settings, email, period=period, confirmed=confirmed)
    except DigestError as exc:
        raise click.ClickException(str(exc)) from exc
    if token:
        sent = subs.send_confirmation(settings, view.email, token)
        where = "sent" if settings.smtp_host else "in the outbox, no SMTP relay"
        note = f"confirmation mail {where}" if sent else "confirmation mail NOT sent (see log)"
        click.echo(f"{view.email}: {view.status} ({note})")
    else:
        click.echo(f"{view.email}: {view.status} ({view.consent_source or 'no change'})")


@subscribers_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirmed", is_flag=True, help="Consent was given elsewhere. Logged.")
def import_(file: Path, confirmed: bool) -> None:
    """Import a CSV: email[,period[,topics]] (topics ;-separated: cat:cs.CL, author:Name,
    or keywords). Bad rows are reported with their line number; good rows are kept."""
    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    report, to_mail = subs.import_csv(
        db, settings, subs.decode_csv(file.read_bytes()), confirmed=confirmed
    )
    for email, token in to_mail:
        subs.send_confirmation(settings, email, token)
    for line, reason in report.errors:
        click.echo(f"{file}:{line}: {reason}", err=True)
    how = "confirmed (consent given elsewhere)" if confirmed else "pending confirmation"
    click.echo(f"imported {report.added} ({how}), rejected {len(report.errors)}")
    if report.errors:
        sys.exit(3)


# A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: str) -> str:
    """``value`` made inert for a spreadsheet: a leading formula character gets a ``'``
    before it (OWASP's advice). The lone ``-`` this command prints for "none" is left as is."""
    if value.startswith(FORMULA_START) and value != "-":
        return "'" + value
    return value


@subscribers_group.command("list")
def list_() -> None:
    """Every subscriber: email, status, period, topics, consent; tab-separated, one a line,
    each cell neutralised so that opening the output in a spreadsheet runs no formula."""
    for s in subs.list_all(get_database()):
        p = s.prefs
        topics = ";".join(
            [f"cat:{c}" for c in p.categories] + [f"author:{a}" for a in p.authors] + p.keywords
        )
        consent = f"{s.consent_at:%Y-%m-%d %H:%M} {s.consent_source}" if s.consent_at else "-"
        cells = (s.email, s.status, p.period, topics or "-", consent)
        click.echo("\t".join(spreadsheet_cell(c) for c in cells))


@subscribers_group.command("remove")
@click.argument("email")
def remove(email: str) -> None:
    """Forget an address entirely (with its delivery history)."""
    if not subs.remove(get_database(), email):
        raise click.ClickException(f"no subscriber {email}")
    click.echo(f"removed {email.strip().lower()}")
