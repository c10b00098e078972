"""``paperfeed digest resolve``: an admin settles uncertain deliveries after checking the
relay's log: as sent, as failed, or sent again (``--retry``)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.digest import DigestError, deliver
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.clock import FakeClock
from paperfeed.store.db import Database
from paperfeed.store.models import DigestDelivery, DigestRun
from tests.digest.conftest import SmtpSink
from tests.web.conftest import FRIDAY

EMAILS = ["ua@example.org", "ub@example.org", "uc@example.org", "ok@example.org"]


def _run_with_uncertain(settings: Settings, db: Database) -> int:
    """A finished run of four: three uncertain (as a crash mid-send leaves them), one sent."""
    for email in EMAILS:
        subs.add(db, settings, email, confirmed=True)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run = deliver.create_run(db, settings, "daily", FRIDAY, FakeClock(now))
    with db.write() as session:
        session.execute(
            update(DigestDelivery)
            .where(DigestDelivery.email != "ok@example.org")
            .values(status="uncertain", claimed_by="gone", claimed_at=now, attempts=1)
        )
        session.execute(
            update(DigestDelivery)
            .where(DigestDelivery.email == "ok@example.org")
            .values(status="sent", sent_at=now)
        )
        session.execute(update(DigestRun).values(status="done", finished_at=now))
    return run.id


def _rows(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.read() as session:
        return {
            e: (s, err)
            for e, s, err in session.execute(
                select(DigestDelivery.email, DigestDelivery.status, DigestDelivery.last_error)
            )
        }


def test_resolve_as_sent_and_failed(
    digest_settings: Settings,
    digest_db: Database,
    smtp_sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = _run_with_uncertain(digest_settings, digest_db)
    runner = CliRunner()
    with caplog.at_level(logging.WARNING, logger="paperfeed.digest.deliver"):
        r = runner.invoke(
            cli, ["digest", "resolve", str(run), "--as", "sent", "--email", "UA@example.org"]
        )
    assert r.exit_code == 0, r.output
    assert "ua@example.org\tsent" in r.output and "1 uncertain deliveries marked sent" in r.output
    assert "resolved as sent by an admin: ua@example.org" in caplog.text
    r = runner.invoke(cli, ["digest", "resolve", str(run), "--as", "failed"])
    assert r.exit_code == 0, r.output
    assert "2 uncertain deliveries marked failed" in r.output
    rows = _rows(digest_db)
    assert rows["ua@example.org"][0] == "sent" and rows["ok@example.org"][0] == "sent"
    assert rows["ub@example.org"][0] == rows["uc@example.org"][0] == "failed"
    assert "resolved as failed by an admin" in (rows["ub@example.org"][1] or "")
    with digest_db.read() as session:
        sent_at = session.scalar(
            select(DigestDelivery.sent_at).where(DigestDelivery.email == "ua@example.org")
        )
    assert sent_at is not None  # the claim time: when it went out, as far as we know
    (status,) = deliver.run_status(digest_db, [run])
    assert status.counts == {"sent": 2, "failed": 2} and not status.uncertain
    r = runner.invoke(cli, ["digest", "resolve", str(run), "--retry"])
    assert r.exit_code == 0 and "0 uncertain deliveries" in r.output  # only uncertain rows
    assert not smtp_sink.messages


def test_resolve_retry_sends_them_again(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    run = _run_with_uncertain(digest_settings, digest_db)
    runner = CliRunner()
    r = runner.invoke(
        cli,
        [
            *("digest", "resolve", str(run), "--retry"),
            *("--email", "ua@example.org", "--email", "ub@example.org"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "2 uncertain deliveries moved back to pending" in r.output
    (status,) = deliver.run_status(digest_db, [run])
    assert status.status == "sending"  # reopened, so a sender picks them up
    assert status.counts == {"pending": 2, "uncertain": 1, "sent": 1}
    r = runner.invoke(cli, ["digest", "send", "--period", "daily", "--date", FRIDAY.isoformat()])
    assert r.exit_code == 0, r.output
    assert sorted(m["To"] for m in smtp_sink.messages) == ["ua@example.org", "ub@example.org"]
    (status,) = deliver.run_status(digest_db, [run])
    assert status.status == "done" and status.counts == {"sent": 3, "uncertain": 1}
    assert [e for e, _ in status.uncertain] == ["uc@example.org"]  # untouched: never re-sent


def test_resolve_retry_of_a_stale_digest_gets_a_new_window(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    """Resolved a week later: the admin asked for it to be sent, so it is not failed as
    stale at once; it gets a day from now."""
    run = _run_with_uncertain(digest_settings, digest_db)
    later = FakeClock(dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=7))
    done = deliver.resolve_uncertain(digest_db, run, "retry", later, ["uc@example.org"])
    assert done.emails == ["uc@example.org"] and done.run_status == "sending"
    sender = deliver.Sender(digest_db, digest_settings, later)
    sender.register()
    stats = sender.send_runs([run])
    sender.unregister()
    assert stats.sent == 1 and [m["To"] for m in smtp_sink.messages] == ["uc@example.org"]


def test_resolve_refuses_what_it_cannot_do(digest_settings: Settings, digest_db: Database) -> None:
    run = _run_with_uncertain(digest_settings, digest_db)
    runner = CliRunner()
    r = runner.invoke(cli, ["digest", "resolve", str(run)])
    assert r.exit_code == 2 and "exactly one of" in r.output
    r = runner.invoke(cli, ["digest", "resolve", str(run), "--as", "sent", "--retry"])
    assert r.exit_code == 2 and "exactly one of" in r.output
    r = runner.invoke(cli, ["digest", "resolve", "99", "--as", "sent"])
    assert r.exit_code == 1 and "no run 99" in r.output
    # Addresses that are not uncertain in the run are reported (exit 3); the others change.
    r = runner.invoke(
        cli,
        [
            *("digest", "resolve", str(run), "--as", "failed"),
            *("--email", "ok@example.org", "--email", "nobody@example.org"),
            *("--email", "uc@example.org"),
        ],
    )
    assert r.exit_code == 3, r.output
    assert f"ok@example.org: not uncertain in run {run} (sent)" in r.output
    assert f"nobody@example.org: not uncertain in run {run} (no delivery)" in r.output
    rows = _rows(digest_db)
    assert rows["ok@example.org"][0] == "sent" and rows["uc@example.org"][0] == "failed"
    with pytest.raises(DigestError):
        deliver.resolve_uncertain(digest_db, run, "maybe", FakeClock(dt.datetime(2025, 3, 8)))


def test_status_points_at_resolve(digest_settings: Settings, digest_db: Database) -> None:
    run = _run_with_uncertain(digest_settings, digest_db)
    r = CliRunner().invoke(cli, ["digest", "status", str(run)])
    assert r.exit_code == 0 and "uncertain 3" in r.output
    assert "ua@example.org" in r.output and "paperfeed digest resolve" in r.output
