"""``paperfeed digest send|status|resolve|preview``: trending-paper digests by mail."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from paperfeed import papers
from paperfeed.config import get_settings
from paperfeed.digest import DigestError
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.clock import Clock
from paperfeed.digest.compose import period_for
from paperfeed.mail.outbox import outbox_dir
from paperfeed.params import ID_MAX, BadPeriod, is_whole_number, parse_day
from paperfeed.store.db import get_database

PERIOD = click.Choice(["daily", "weekly"])


def _default_day(date: str | None) -> dt.date:
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
    # lazy: the mail renderer (jinja2, CSS inlining) loads only for the digest commands
    from paperfeed.digest import deliver

    settings = get_settings()
    db = get_database(settings)
    db.upgrade()
    clock = Clock()
    run = deliver.create_run(db, settings, kind, _default_day(date), clock)
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
    if not settings.smtp_host and stats.sent:
        click.echo(f"no SMTP relay: the mail is in {outbox_dir(settings)} (/admin/outbox)")
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
    # lazy: the mail renderer (jinja2, CSS inlining) loads only for the digest commands
    from paperfeed.digest import deliver

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
    # lazy: the mail renderer (jinja2, CSS inlining) loads only for the digest commands
    from paperfeed.digest import deliver

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
    # lazy: the mail renderer (jinja2, CSS inlining) loads only for the digest commands
    from paperfeed.digest.preview import preview as render_preview

    settings = get_settings()
    db = get_database(settings)
    sub = subs.get_by_email(db, email)
    if sub is None:
        raise click.ClickException(f"no subscriber {email}")
    period = period_for(kind or sub.prefs.period, _default_day(date))
    shown = render_preview(db, settings, sub, period, fmt)
    if shown is None:
        raise click.ClickException("the digest would be empty: nothing would be sent")
    if output:
        output.write_bytes(shown.data)
        click.echo(f"{shown.papers} papers written to {output}")
    else:
        sys.stdout.buffer.write(shown.data)
