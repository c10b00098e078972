"""``paperfeed subscribers …``, ``paperfeed digest …`` and ``paperfeed worker``."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from sqlalchemy import select

from paperfeed.config import get_settings
from paperfeed.digest import DigestError
from paperfeed.digest import subscriptions as subs
from paperfeed.params import ID_MAX, BadPeriod, is_whole_number, parse_day
from paperfeed.store.db import get_database

PERIOD = click.Choice(["daily", "weekly"])


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
        note = "confirmation mail sent" if sent else "confirmation mail NOT sent (no SMTP)"
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


# --- digest ---------------------------------------------------------------------------------


def _default_day(kind: str, date: str | None) -> dt.date:
    from paperfeed import papers

    if date:
        try:
            return parse_day(date)
        except BadPeriod as exc:
            raise click.BadParameter(str(exc), param_hint="--date") from exc
    with get_database().read() as session:
        latest = papers.latest_day(session)
    if latest is None:
        raise click.ClickException("no papers yet: nothing to send (pass --date)")
    return latest


@click.group("digest")
def digest_group() -> None:
    """Trending-paper digests by mail."""


@digest_group.command("send")
@click.option("--period", "kind", type=PERIOD, required=True)
@click.option("--date", help="A day of the period (default: the latest day with papers).")
@click.option("--resume", is_flag=True, help="Continue a run paused after failures.")
@click.option("--no-wait", is_flag=True, help="Return when only future retries are left.")
def send(kind: str, date: str | None, resume: bool, no_wait: bool) -> None:
    """Freeze the run's recipients (once per period) and send to them. Safe to run again,
    and in several processes at once: nothing is sent twice."""
    from paperfeed.digest import deliver
    from paperfeed.digest.clock import Clock

    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    clock = Clock()
    run = deliver.create_run(db, settings, kind, _default_day(kind, date), clock)
    how = "frozen now" if run.created else "already frozen"
    click.echo(f"run {run.id} {kind} {run.period.key}: {run.recipients} recipients ({how})")
    if resume:
        deliver.resume_run(db, run.id)
    sender = deliver.Sender(db, settings, clock)
    sender.register()
    try:
        stats = sender.send_runs([run.id], wait=not no_wait)
    finally:
        sender.unregister()
    click.echo(
        f"sent {stats.sent}, deferred {stats.deferred}, failed {stats.failed}, "
        f"uncertain {stats.uncertain + stats.recovered_uncertain}, skipped {stats.skipped}"
    )
    final = deliver.run_status(db, [run.id])[0]
    click.echo(f"run {run.id}: {final.status}")
    if stats.throttled_until is not None:
        click.echo(
            f"throttled: the next send slot is at {stats.throttled_until:%Y-%m-%d %H:%M:%S} UTC "
            "(PAPERFEED_DIGEST_RATE_PER_*); run the command again then"
        )
    if stats.connect_failed:
        click.echo("the SMTP server could not be reached; run the command again later", err=True)
        sys.exit(5)
    if final.status == "paused":
        click.echo(f"paused: {final.paused_reason} (fix it, then --resume)", err=True)
        sys.exit(4)


@digest_group.command("status")
@click.argument("run", required=False)
def status(run: str | None) -> None:
    """Runs and their deliveries; RUN (an id) also lists uncertain and failed addresses.
    Deliveries left in sending by dead senders are marked uncertain first."""
    from paperfeed.digest import deliver
    from paperfeed.digest.clock import Clock

    settings = get_settings()
    db = get_database(settings)
    deliver.recover(db, settings, Clock())
    if run is not None and not is_whole_number(run, 1, ID_MAX):
        raise click.BadParameter("RUN is a run id (see `paperfeed digest status`)")
    runs = deliver.run_status(db, [int(run)] if run else None)
    if run and not runs:
        raise click.ClickException(f"no run {run}")
    for r in runs:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items())) or "no recipients"
        click.echo(f"run {r.id}\t{r.kind}\t{r.period_key}\t{r.status}\t{counts}")
        if r.paused_reason:
            click.echo(f"  paused: {r.paused_reason}")
        if run:
            for email, at in r.uncertain:
                when = f"{at:%Y-%m-%d %H:%M:%S}" if at else "?"
                click.echo(
                    f"  uncertain\t{email}\tclaimed {when} (may have been sent; not retried: "
                    "see `paperfeed digest resolve`)"
                )
            for email, code, error in r.failures:
                click.echo(f"  failed\t{email}\t{code or '-'}\t{error or ''}")


@digest_group.command("resolve")
@click.argument("run", type=int)
@click.option(
    "--as",
    "as_",
    type=click.Choice(["sent", "failed"]),
    help="What the relay's log says happened: sent (it went out) or failed (it did not).",
)
@click.option(
    "--retry",
    is_flag=True,
    help="Send them again: back to pending, due now (the next send or worker pass).",
)
@click.option(
    "--email",
    "emails",
    multiple=True,
    help="Only this address (repeatable). Default: every uncertain delivery of RUN.",
)
def resolve(run: int, as_: str | None, retry: bool, emails: tuple[str, ...]) -> None:
    """Settle RUN's uncertain deliveries (left mid-send by a crash or a lost connection),
    once you have checked your SMTP relay's log. Exit 3 if an --email was not uncertain."""
    from paperfeed.digest import deliver
    from paperfeed.digest.clock import Clock

    if (as_ is None) == (not retry):
        raise click.UsageError("give exactly one of --as sent, --as failed or --retry")
    resolution = "retry" if retry else str(as_)
    settings = get_settings()
    db = get_database(settings)
    clock = Clock()
    deliver.recover(db, settings, clock)  # dead senders' in-flight rows become uncertain
    try:
        done = deliver.resolve_uncertain(
            db, run, resolution, clock, list(emails) if emails else None
        )
    except DigestError as exc:
        raise click.ClickException(str(exc)) from exc
    for email in done.emails:
        click.echo(f"{email}\t{'pending (retry)' if retry else resolution}")
    for email, state in done.not_uncertain:
        click.echo(f"{email}: not uncertain in run {run} ({state or 'no delivery'})", err=True)
    what = "moved back to pending" if retry else f"marked {resolution}"
    click.echo(f"run {run}: {len(done.emails)} uncertain deliveries {what}")
    if retry and done.emails and done.run_status == "paused":
        click.echo(f"run {run} is paused: `paperfeed digest send --resume` sends them")
    if done.not_uncertain:
        sys.exit(3)


@digest_group.command("preview")
@click.argument("email")
@click.option("--period", "kind", type=PERIOD, help="Default: the subscriber's.")
@click.option("--date", help="A day of the period (default: the latest day with papers).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout."
)
@click.option(
    "--format", "fmt", type=click.Choice(["eml", "html", "text"]), default="eml", show_default=True
)
def preview(email: str, kind: str | None, date: str | None, output: Path | None, fmt: str) -> None:
    """Render the digest EMAIL would get now (nothing is sent or recorded)."""
    from paperfeed.digest.clock import Clock
    from paperfeed.digest.compose import Composer, period_for
    from paperfeed.digest.render import Recipient, Renderer

    settings = get_settings()
    db = get_database(settings)
    sub = subs.get_by_email(db, email)
    if sub is None:
        raise click.ClickException(f"no subscriber {email}")
    period = period_for(kind or sub.prefs.period, _default_day(kind or sub.prefs.period, date))
    clock = Clock()
    from paperfeed.digest.compose import SUBSCRIBER_COLUMNS, subscriber_row
    from paperfeed.store.models import Subscriber

    with db.read() as session:
        composer = Composer(session, db, settings, period, clock.now())
        row = subscriber_row(
            session.execute(select(*SUBSCRIBER_COLUMNS).where(Subscriber.id == sub.id)).one()
        )
        sent = composer.already_sent(composer.candidate_ids([row])).get(sub.id, frozenset())
        papers = list(composer.papers_for(row, sent))
    if not papers:
        raise click.ClickException("the digest would be empty: nothing would be sent")
    renderer = Renderer(db, settings)
    content = renderer.render_content(period, papers)
    data = renderer.message(content, Recipient(sub.id, sub.email), 0, period, clock.now())
    if fmt != "eml":
        import email as email_lib
        from email import policy
        from email.message import EmailMessage

        message = email_lib.message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(("html",) if fmt == "html" else ("plain",))
        assert part is not None
        data = part.get_content().encode()
    if output:
        output.write_bytes(data)
        click.echo(f"{len(papers)} papers written to {output}")
    else:
        sys.stdout.buffer.write(data)


@click.command("worker")
@click.option("--once", is_flag=True, help="One pass (ingest if due, freeze due runs, send).")
def worker(once: bool) -> None:
    """Long-running scheduler: ingests new arXiv papers daily and sends each digest at the
    subscriber's chosen hour. Restart-safe: everything it does is in the ledger."""
    from paperfeed.digest.worker import run_worker

    run_worker(get_settings(), once=once)
