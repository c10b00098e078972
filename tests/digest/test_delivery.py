"""The whole path against a real SMTP server on loopback: subscribe → confirm → digest →
one-click unsubscribe; rendering and headers; faults with a controllable clock."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import cli
from paperfeed.config import Settings, get_settings
from paperfeed.digest import deliver
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.clock import FakeClock
from paperfeed.mail.outbox import Outbox, segments
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import csrf_of
from tests.digest.conftest import SmtpSink
from tests.digest.test_subscriptions import confirm_path, subscribe
from tests.web.conftest import FRIDAY, MONDAY

T0 = dt.datetime(2025, 3, 11, 6, 0)


def _sender(db: Database, settings: Settings, clock: FakeClock) -> deliver.Sender:
    sender = deliver.Sender(db, settings, clock, rng=random.Random(7))
    sender.register()
    return sender


def _send(
    db: Database, settings: Settings, kind: str, day: dt.date, clock: FakeClock
) -> deliver.SendStats:
    run = deliver.create_run(db, settings, kind, day, clock)
    sender = _sender(db, settings, clock)
    try:
        return sender.send_runs([run.id])
    finally:
        sender.unregister()


def test_subscribe_confirm_digest_unsubscribe(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    clock = FakeClock(T0)
    with TestClient(
        create_app(digest_settings, digest_db), base_url="https://papers.example.org"
    ) as client:
        subscribe(client, "ann@example.org")
        subscribe(client, "pending@example.org")
        path = confirm_path(smtp_sink, "ann@example.org")
        page = client.get(path)
        client.post(path, data={"csrf_token": csrf_of(page.text)})
    stats = _send(digest_db, digest_settings, "daily", FRIDAY, clock)
    assert stats.sent == 1
    digests = [m for m in smtp_sink.messages if "digest" in (m["List-Id"] or "")]
    assert [m["To"] for m in digests] == ["ann@example.org"]  # never the unconfirmed address
    assert len(smtp_sink.to("pending@example.org")) == 1  # only its confirmation mail
    mail = digests[0]
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = mail["List-Unsubscribe"].strip("<>")
    assert unsub.startswith("https://papers.example.org/unsubscribe/")
    assert mail["Message-ID"].startswith("<digest.") and mail["Date"]
    assert "paperfeed" in mail["From"] and "digest@paperfeed.test" in mail["From"]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Lanterns: Tiny Models That Read Maps" in text and unsub in text
    assert "https://papers.example.org/papers/2503.00002" in html and unsub in html
    assert "https://github.com/example/lanterns" in html and 'style="' in html
    # Papers ordered by upvotes: 25 before 10.
    assert text.index("Lanterns") < text.index("Gradient Gardens")
    # One-click, from the header, as a mail provider does it.
    bare = TestClient(create_app(digest_settings, digest_db))
    r = bare.post(
        unsub.replace("https://papers.example.org", ""),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200
    assert subs.get_by_email(digest_db, "ann@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    before = len(smtp_sink.messages)
    stats = _send(digest_db, digest_settings, "daily", MONDAY, clock)
    assert stats.sent == 0 and len(smtp_sink.messages) == before


def test_runs_are_unique_and_papers_never_repeat(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    clock = FakeClock(T0)
    subs.add(digest_db, digest_settings, "bo@example.org", confirmed=True)
    first = _send(digest_db, digest_settings, "daily", FRIDAY, clock)
    again = _send(digest_db, digest_settings, "daily", FRIDAY, clock)
    assert first.sent == 1 and again.sent == 0
    assert deliver.find_run(digest_db, "daily", FRIDAY).recipients == 1  # type: ignore[union-attr]
    _send(digest_db, digest_settings, "daily", MONDAY, clock)
    weekly = _send(digest_db, digest_settings, "weekly", FRIDAY, clock)
    assert weekly.sent == 0  # daily subscribers only get daily digests
    seen: list[str] = []
    for m in smtp_sink.to("bo@example.org"):
        text = m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        seen += [w for w in text.split() if w.startswith("https://papers.example.org/papers/")]
    assert seen and len(seen) == len(set(seen)), seen


def test_topics_and_empty_digests(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    clock = FakeClock(T0)
    prefs = subs.make_prefs(digest_settings, authors=["Ann One"])
    subs.add(digest_db, digest_settings, "au@example.org", confirmed=True, prefs=prefs)
    nothing = subs.make_prefs(digest_settings, categories=["math.AG"])
    subs.add(digest_db, digest_settings, "none@example.org", confirmed=True, prefs=nothing)
    kw = subs.make_prefs(digest_settings, keywords=["quiet tokens"])
    subs.add(digest_db, digest_settings, "kw@example.org", confirmed=True, prefs=kw)
    _send(digest_db, digest_settings, "daily", FRIDAY, clock)
    (au,) = smtp_sink.to("au@example.org")
    text = au.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Lanterns" in text and "Gradient Gardens" not in text
    (k,) = smtp_sink.to("kw@example.org")
    assert "Quiet Tokens" in k.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert not smtp_sink.to("none@example.org")  # empty digests are not sent


def test_render_escapes_and_preview(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    from tests.factories import add_entry

    day = dt.date(2025, 3, 14)
    add_entry(
        digest_db,
        "2503.09999",
        day,
        upvotes=3,
        title='<script>alert("x")</script> & Co',
        abstract="Less <b>than</b> 3 & more.",
    )
    subs.add(digest_db, digest_settings, "cy@example.org", confirmed=True)
    out = tmp_path / "d.html"
    r = CliRunner().invoke(
        cli,
        [
            "digest",
            "preview",
            "cy@example.org",
            "--date",
            day.isoformat(),
            "--format",
            "html",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;than" in html
    r = CliRunner().invoke(
        cli, ["digest", "preview", "cy@example.org", "--date", day.isoformat(), "--format", "text"]
    )
    assert '<script>alert("x")</script> & Co' in r.output
    assert not smtp_sink.messages  # preview sends nothing


def test_cli_send_and_status(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    subs.add(digest_db, digest_settings, "di@example.org", confirmed=True)
    subs.add(digest_db, digest_settings, "ed@example.org", confirmed=True)
    smtp_sink.faults[("ed@example.org", "rcpt")] = "550 5.1.1 no such user"
    runner = CliRunner()
    r = runner.invoke(cli, ["digest", "send", "--period", "daily", "--date", FRIDAY.isoformat()])
    assert r.exit_code == 0, r.output
    assert "2 recipients" in r.output and "sent 1" in r.output and "failed 1" in r.output
    r = runner.invoke(cli, ["digest", "status"])
    assert "daily\t2025-03-07\tdone" in r.output and "failed 1, sent 1" in r.output
    r = runner.invoke(cli, ["digest", "status", "1"])
    assert "ed@example.org\t550" in r.output


# --- faults, with a controllable clock ------------------------------------------------------


@pytest.fixture
def faulty(digest_settings: Settings, digest_db: Database) -> Settings:
    return digest_settings.model_copy(
        update={
            "digest_retry_base_seconds": 60.0,
            "digest_retry_max_seconds": 3600.0,
            "digest_max_hard_bounces": 2,
            "digest_pause_after_failures": 5,
            "smtp_timeout": 0.5,
        }
    )


@pytest.mark.parametrize(
    "reply", ["451 4.7.1 try later", "452 full", "552 5.2.2 mailbox full", "421 4.3.2 bye", "drop"]
)
def test_temporary_failures_are_retried_with_backoff(
    faulty: Settings, digest_db: Database, smtp_sink: SmtpSink, reply: str
) -> None:
    clock = FakeClock(T0)
    subs.add(digest_db, faulty, "fa@example.org", confirmed=True)
    attempts = {"n": 0}

    def rule(address: str, phase: str) -> str | None:
        if phase == "rcpt" and address == "fa@example.org":
            attempts["n"] += 1
            return reply if attempts["n"] <= 3 else None
        return None

    smtp_sink.rule = rule
    stats = _send(digest_db, faulty, "daily", FRIDAY, clock)
    assert stats.sent == 1 and stats.deferred == 3 and len(smtp_sink.to("fa@example.org")) == 1
    waits = [w for w in clock.slept if w >= 1]
    # 60 s, 120 s, 240 s, each with jitter in [50 %, 100 %].
    assert len(waits) == 3
    for n, w in enumerate(waits):
        assert 60 * 2**n * 0.5 - 1 <= w <= 60 * 2**n + 1, waits


def test_give_up_when_stale(faulty: Settings, digest_db: Database, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(T0)
    faulty = faulty.model_copy(update={"digest_pause_after_failures": 100})
    subs.add(digest_db, faulty, "gu@example.org", confirmed=True)
    smtp_sink.faults[("gu@example.org", "rcpt")] = "451 4.4.1 later"
    stats = _send(digest_db, faulty, "daily", FRIDAY, clock)
    assert stats.sent == 0 and stats.failed == 1 and not smtp_sink.to("gu@example.org")
    assert clock.now() - T0 <= dt.timedelta(days=1, minutes=1)
    (r,) = deliver.run_status(digest_db)
    assert r.counts == {"failed": 1} and "stale" in (r.failures[0][2] or "")
    assert subs.get_by_email(digest_db, "gu@example.org").hard_bounces == 0  # type: ignore[union-attr]


def test_hard_bounces_suppress(faulty: Settings, digest_db: Database, smtp_sink: SmtpSink) -> None:
    clock = FakeClock(T0)
    subs.add(digest_db, faulty, "hb@example.org", confirmed=True)
    smtp_sink.faults[("hb@example.org", "rcpt")] = "550 5.1.1 unknown"
    _send(digest_db, faulty, "daily", FRIDAY, clock)
    assert subs.get_by_email(digest_db, "hb@example.org").status == "confirmed"  # type: ignore[union-attr]
    _send(digest_db, faulty, "daily", MONDAY, clock)
    assert subs.get_by_email(digest_db, "hb@example.org").status == "suppressed"  # type: ignore[union-attr]
    smtp_sink.faults.clear()
    stats = _send(digest_db, faulty, "daily", dt.date(2025, 3, 12), clock)
    assert stats.sent == 0 and not smtp_sink.to("hb@example.org")
    # Suppressed addresses cannot re-subscribe themselves by the form either.
    assert subs.request_subscription(digest_db, faulty, "hb@example.org", subs.Prefs()) is None


def test_consecutive_failures_pause_the_run(
    faulty: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    clock = FakeClock(T0)
    for i in range(8):
        subs.add(digest_db, faulty, f"p{i}@example.org", confirmed=True)
    smtp_sink.rule = lambda a, p: "554 5.7.1 rejected" if p == "data" else None
    stats = _send(digest_db, faulty, "daily", FRIDAY, clock)
    assert stats.paused and stats.failed == 5
    (r,) = deliver.run_status(digest_db)
    assert r.status == "paused" and r.counts == {"failed": 5, "pending": 3}
    smtp_sink.rule = None
    deliver.resume_run(digest_db, r.id)
    stats = _send(digest_db, faulty, "daily", FRIDAY, clock)
    assert stats.sent == 3 and deliver.run_status(digest_db)[0].status == "done"


def test_slow_replies(faulty: Settings, digest_db: Database, smtp_sink: SmtpSink) -> None:
    """Slow before the message went out: deferred and retried. Slow after the whole message
    (the server may have taken it): uncertain, never re-sent."""
    clock = FakeClock(T0)
    subs.add(digest_db, faulty, "slow-rcpt@example.org", confirmed=True)
    subs.add(digest_db, faulty, "slow-data@example.org", confirmed=True)
    calls = {"rcpt": 0}

    def rule(address: str, phase: str) -> tuple[str, float] | None:
        if address == "slow-rcpt@example.org" and phase == "rcpt":
            calls["rcpt"] += 1
            return ("slow", 1.0) if calls["rcpt"] == 1 else None
        if address == "slow-data@example.org" and phase == "data":
            return ("slow", 1.0)
        return None

    smtp_sink.rule = rule
    stats = _send(digest_db, faulty, "daily", FRIDAY, clock)
    assert stats.uncertain == 1 and stats.sent == 1 and stats.deferred == 1
    (r,) = deliver.run_status(digest_db)
    assert r.counts == {"sent": 1, "uncertain": 1}
    assert [e for e, _ in r.uncertain] == ["slow-data@example.org"]
    import time

    time.sleep(1.2)  # the slow handler finishes and the server keeps the message
    assert len(smtp_sink.to("slow-data@example.org")) <= 1


def test_throttle_and_connection_reuse(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    clock = FakeClock(T0)
    s = digest_settings.model_copy(
        update={"digest_rate_per_second": 2.0, "digest_rate_per_hour": 3}
    )
    for i in range(5):
        subs.add(digest_db, s, f"t{i}@example.org", confirmed=True)
    sender = _sender(digest_db, s, clock)
    connects = []
    connect = sender.smtp.connect
    sender.smtp.connect = lambda: (connects.append(clock.now()), connect())[1]  # type: ignore[method-assign, func-returns-value]
    run = deliver.create_run(digest_db, s, "daily", FRIDAY, clock)
    stats = sender.send_runs([run.id])
    sender.unregister()
    assert stats.sent == 5
    assert sum(w for w in clock.slept if w < 1) >= 0.5 * 2  # 2 per second between the first three
    assert max(clock.slept) > 3000  # the fourth waits for the hour to roll over
    # One connection carried the first three; it is closed rather than left idle for the
    # hour, and a second one carries the last two.
    assert len(connects) == 2 and connects[1] - connects[0] >= dt.timedelta(seconds=3599)
    assert sender.smtp.messages_on_connection == 2


def test_unreachable_server_claims_nothing(digest_settings: Settings, digest_db: Database) -> None:
    from tests.digest.conftest import free_port

    clock = FakeClock(T0)
    down = digest_settings.model_copy(update={"smtp_port": free_port()})
    subs.add(digest_db, down, "un@example.org", confirmed=True)
    run = deliver.create_run(digest_db, down, "daily", FRIDAY, clock)
    sender = _sender(digest_db, down, clock)
    stats = sender.send_runs([run.id])
    sender.unregister()
    assert stats.connect_failed and stats.sent == 0
    (r,) = deliver.run_status(digest_db)
    assert r.counts == {"pending": 1} and r.status == "sending"


def test_dead_sender_on_another_host(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    """A claim whose sender stopped beating (another host) becomes uncertain after the
    lease; a live but idle sender taken for dead registers again before claiming."""
    from sqlalchemy import update

    from paperfeed.store.models import DigestDelivery, DigestSender

    clock = FakeClock(T0)
    subs.add(digest_db, digest_settings, "x1@example.org", confirmed=True)
    subs.add(digest_db, digest_settings, "x2@example.org", confirmed=True)
    run = deliver.create_run(digest_db, digest_settings, "daily", FRIDAY, clock)
    with digest_db.write() as session:
        session.add(
            DigestSender(id="remote", host="elsewhere", pid=1, started_at=T0, heartbeat_at=T0)
        )
        session.execute(
            update(DigestDelivery)
            .where(DigestDelivery.email == "x1@example.org")
            .values(status="sending", claimed_by="remote", claimed_at=T0)
        )
    clock.advance(60)
    assert deliver.recover(digest_db, digest_settings, clock) == 0  # within the lease
    idle = _sender(digest_db, digest_settings, clock)
    clock.advance(digest_settings.digest_claim_lease_seconds + 1)
    other = deliver.Sender(digest_db, digest_settings, clock)
    other.register()  # finds both "remote" and the idle sender silent for too long
    other.unregister()
    (r,) = deliver.run_status(digest_db, [run.id])
    assert r.counts == {"pending": 1, "uncertain": 1}
    stats = idle.send_runs([run.id])
    idle.unregister()
    assert stats.sent == 1 and [m["To"] for m in smtp_sink.messages] == ["x2@example.org"]


def test_cli_without_relay_confirms_and_sends_through_the_outbox(
    digest_settings: Settings, digest_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path on a machine with no relay: the confirmation and then the digest are
    files in the outbox, and the confirmation's link confirms."""
    monkeypatch.delenv("PAPERFEED_SMTP_HOST")
    get_settings.cache_clear()
    settings = get_settings()
    box = Outbox.of(settings)
    runner = CliRunner()
    r = runner.invoke(cli, ["subscribers", "add", "fay@example.org"])
    assert "pending (confirmation mail in the outbox, no SMTP relay)" in r.output, r.output
    shown = box.read(box.names()[-1])
    assert shown is not None
    (link,) = [p for p, is_link in segments(shown.text) if is_link]
    assert subs.confirm(digest_db, settings, link.rsplit("/", 1)[1]) is not None
    r = runner.invoke(cli, ["digest", "send", "--period", "daily", "--date", FRIDAY.isoformat()])
    assert r.exit_code == 0, r.output
    assert "sent 1" in r.output and "no SMTP relay: the mail is in" in r.output
    digest = box.read(box.names()[-1])
    assert digest is not None and digest.entry.to == "fay@example.org"
    assert any(k == "List-Unsubscribe" for k, _ in digest.headers)
    assert digest.html_source is not None and "https://papers.example.org/papers/" in digest.text
