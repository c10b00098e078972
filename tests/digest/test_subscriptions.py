"""Subscribing: double opt-in through the real pages and a real SMTP server, GET never
changes anything, one-click unsubscribe without session or CSRF, preferences, admin CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.digest import subscriptions as subs
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import csrf_of
from tests.digest.conftest import SmtpSink

LINK_RE = re.compile(r"https://papers\.example\.org(/subscribe/confirm/\S+)")


def _client(settings: Settings, db: Database) -> TestClient:
    return TestClient(create_app(settings, db), base_url="https://papers.example.org")


def subscribe(client: TestClient, email: str, period: str = "daily") -> None:
    form = client.get(f"/subscribe?email={email}&period={period}")
    assert form.status_code == 200 and f'value="{email}"' in form.text
    r = client.post(
        "/subscribe",
        data={"email": email, "period": period, "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == 200, r.text[:300]
    assert "Check your inbox" in r.text
    mail_sent(client)


def mail_sent(client: TestClient) -> None:
    """Wait until the app's mail queue (mail goes out after the answer) is empty."""
    queue = getattr(client.app.state, "mail_queue", None)  # type: ignore[attr-defined]
    assert queue is None or queue.wait_idle(20)


def confirm_path(sink: SmtpSink, email: str) -> str:
    mails = sink.to(email)
    assert len(mails) == 1
    m = LINK_RE.search(mails[0].get_content())
    assert m
    return m.group(1)


def test_double_opt_in(digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink) -> None:
    with _client(digest_settings, digest_db) as client:
        subscribe(client, "ann@example.org", "weekly")
        assert subs.get_by_email(digest_db, "ann@example.org").status == "pending"  # type: ignore[union-attr]
        path = confirm_path(smtp_sink, "ann@example.org")
        # A link scanner fetching the link (twice) confirms nothing.
        for _ in range(2):
            page = client.get(path)
            assert page.status_code == 200 and "Confirm subscription" in page.text
        view = subs.get_by_email(digest_db, "ann@example.org")
        assert view is not None and view.status == "pending" and view.consent_at is None
        r = client.post(path, data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 200 and "Subscribed" in r.text
        view = subs.get_by_email(digest_db, "ann@example.org")
        assert view is not None and view.status == "confirmed" and view.consent_at is not None
        assert view.prefs.period == "weekly" and view.consent_source == "double opt-in"
        # Single use.
        again = client.post(path, data={"csrf_token": csrf_of(page.text)})
        assert again.status_code == 400
        assert client.get(path).status_code == 400
        # The confirmation POST needs the CSRF token like any other form.
        fresh = TestClient(create_app(digest_settings, digest_db))
        assert fresh.post(path).status_code == 403


def test_confirmation_links_expire_and_die_on_rerequest(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    first = subs.request_subscription(digest_db, digest_settings, "bo@example.org", subs.Prefs())
    second = subs.request_subscription(digest_db, digest_settings, "bo@example.org", subs.Prefs())
    assert first and second and first != second
    assert subs.confirm(digest_db, digest_settings, first) is None  # superseded
    sid, expires, mac = second.split(".")
    forged = f"{sid}.{int(expires) + 10}.{mac}"
    assert subs.confirm(digest_db, digest_settings, forged) is None
    expired = digest_settings.model_copy(update={"digest_confirm_link_hours": -1})
    stale = subs.request_subscription(digest_db, expired, "bo@example.org", subs.Prefs())
    assert stale and subs.confirm(digest_db, digest_settings, stale) is None
    assert subs.get_by_email(digest_db, "bo@example.org").status == "pending"  # type: ignore[union-attr]


def test_rerequests_are_rate_limited(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    with _client(digest_settings, digest_db) as client:
        for _ in range(5):
            subscribe(client, "cy@example.org")
    assert len(smtp_sink.to("cy@example.org")) == 3  # PAPERFEED_RATE_LIMIT_SUBSCRIBE 3/hour


def test_one_click_unsubscribe(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    view, _ = subs.add(digest_db, digest_settings, "di@example.org", confirmed=True)
    token = subs.link_token(digest_db, digest_settings, "unsubscribe", view.id)
    with _client(digest_settings, digest_db) as client:
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200 and "Unsubscribe" in page.text
        assert subs.get(digest_db, view.id).status == "confirmed"  # type: ignore[union-attr]
    # A mail provider: no cookies, no CSRF token, a foreign Origin, the RFC 8058 body.
    bare = TestClient(create_app(digest_settings, digest_db))
    for _ in range(2):  # idempotent
        r = bare.post(
            f"/unsubscribe/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": "https://mail.example.com",
            },
        )
        assert r.status_code == 200, r.text[:200]
        assert subs.get(digest_db, view.id).status == "unsubscribed"  # type: ignore[union-attr]
    # multipart, as some clients send it
    assert (
        bare.post(
            f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")}
        ).status_code
        == 200
    )
    # Bad tokens change nothing and get no 200.
    assert bare.post(f"/unsubscribe/{view.id}.{'0' * 64}").status_code == 400
    # The exemption is exactly this route: a look-alike path still needs the CSRF token.
    assert bare.post(f"/unsubscribe/{token}/x").status_code == 403
    assert bare.post("/subscribe", data={"email": "x@example.org"}).status_code == 403


def test_manage_preferences(digest_settings: Settings, digest_db: Database) -> None:
    view, _ = subs.add(digest_db, digest_settings, "ed@example.org", confirmed=True)
    token = subs.link_token(digest_db, digest_settings, "manage", view.id)
    with _client(digest_settings, digest_db) as client:
        page = client.get(f"/subscriptions/{token}")
        assert page.status_code == 200 and "ed@example.org" in page.text
        r = client.post(
            f"/subscriptions/{token}",
            data={
                "csrf_token": csrf_of(page.text),
                "period": "weekly",
                "send_hour": "9",
                "send_weekday": "4",
                "timezone": "Europe/Paris",
                "max_papers": "5",
                "categories": "cs.CL, cs.LG",
                "keywords": "speculative decoding",
                "authors": "Ann One",
            },
        )
        assert r.status_code == 200 and "Preferences saved" in r.text
        p = subs.get(digest_db, view.id).prefs  # type: ignore[union-attr]
        assert (p.period, p.send_hour, p.send_weekday, p.timezone, p.max_papers) == (
            "weekly",
            9,
            4,
            "Europe/Paris",
            5,
        )
        assert p.categories == ["cs.CL", "cs.LG"] and p.authors == ["Ann One"]
        bad = client.post(
            f"/subscriptions/{token}",
            data={"csrf_token": csrf_of(page.text), "timezone": "Mars/Olympus"},
        )
        assert bad.status_code == 400
        assert client.get(f"/subscriptions/{view.id}.{'f' * 64}").status_code == 400


def test_signed_in_user_subscribes_with_topics(
    digest_settings: Settings, digest_db: Database, smtp_sink: SmtpSink
) -> None:
    from paperfeed.community import users
    from tests.community.conftest import PASSWORD, login

    users.create_user(digest_db, digest_settings, "fay", "fay@example.org", PASSWORD, verified=True)
    with _client(digest_settings, digest_db) as client:
        login(client, "fay")
        page = client.get("/account/digest")
        assert page.status_code == 200 and "fay@example.org" in page.text
        r = client.post(
            "/subscribe",
            data={
                "csrf_token": csrf_of(page.text),
                "period": "daily",
                "categories": "cs.CL",
                "authors": "Ann One",
                "email": "someone-else@example.org",  # ignored: the account's address is used
            },
        )
        assert r.status_code == 200
        mail_sent(client)
        view = subs.get_by_email(digest_db, "fay@example.org")
        assert view is not None and view.status == "pending" and view.user_id is not None
        assert view.prefs.categories == ["cs.CL"] and not smtp_sink.to("someone-else@example.org")
        assert len(smtp_sink.to("fay@example.org")) == 1


def test_cli_subscribers(
    digest_settings: Settings,
    digest_db: Database,
    smtp_sink: SmtpSink,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["subscribers", "add", "gus@example.org", "--period", "weekly"])
    assert r.exit_code == 0 and "pending" in r.output, r.output
    assert len(smtp_sink.to("gus@example.org")) == 1
    r = runner.invoke(cli, ["subscribers", "add", "hal@example.org", "--confirmed"])
    assert r.exit_code == 0 and "confirmed" in r.output and not smtp_sink.to("hal@example.org")
    assert "--confirmed" in caplog.text
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "email,period,topics\n"
        "ivy@example.org,weekly,cat:cs.CL;author:Ann One;diffusion\n"
        "not-an-address,daily,\n"
        "jo@example.org,hourly,\n"
        "kim@example.org,,\n"
    )
    r = runner.invoke(cli, ["subscribers", "import", str(csv_file), "--confirmed"])
    assert r.exit_code == 3
    assert f"{csv_file}:3:" in r.output and f"{csv_file}:4:" in r.output
    assert "imported 2" in r.output and "rejected 2" in r.output
    ivy = subs.get_by_email(digest_db, "ivy@example.org")
    assert ivy is not None and ivy.status == "confirmed"
    assert ivy.prefs.categories == ["cs.CL"] and ivy.prefs.authors == ["Ann One"]
    assert ivy.prefs.keywords == ["diffusion"] and ivy.consent_source == "cli import --confirmed"
    listing = runner.invoke(cli, ["subscribers", "list"]).output
    assert "ivy@example.org\tconfirmed\tweekly" in listing and "gus@example.org\tpending" in listing
    assert runner.invoke(cli, ["subscribers", "remove", "kim@example.org"]).exit_code == 0
    assert subs.get_by_email(digest_db, "kim@example.org") is None
    assert runner.invoke(cli, ["subscribers", "remove", "kim@example.org"]).exit_code != 0
