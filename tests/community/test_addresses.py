"""One address grammar for everything the site accepts, normalised before rate limits, and
one explicit envelope recipient per mail: against a real aiosmtpd server that records each
SMTP envelope (what the server really delivers to), not just the headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import cli
from paperfeed.community import CommunityError, users
from paperfeed.config import Settings
from paperfeed.digest import subscriptions as subs
from paperfeed.mail import Mail, Mailer, MailError
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import Envelopes, csrf_of

REFUSED = [
    "(N)victim@example.org",  # a comment: smtplib and mail servers read victim@example.org
    "victim@example.org(N)",
    "x1,victim@example.org",  # two recipients once re-parsed
    "x1@example.org, victim@example.org",
    "a\\b@example.org",
    "victim%other@example.org",  # source routing through the relay
    '"victim"@example.org',
    "Victim <victim@example.org>",
    "victim@[192.0.2.1]",
    "victim@example.org\r\nBcc: other@example.org",
    "victim@localhost",
    "vïctim@example.org",  # SMTPUTF8: not every relay takes it
    "",
]


@pytest.mark.parametrize("raw", REFUSED)
def test_the_grammar_refuses(raw: str) -> None:
    with pytest.raises(CommunityError, match="not an email address"):
        users.normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Victim@EXAMPLE.org ", "victim@example.org"),
        ("first.last+tag@Sub.Example.org", "first.last+tag@sub.example.org"),
        ("v@bücher.de", "v@xn--bcher-kva.de"),  # IDNA: one form per domain
    ],
)
def test_the_grammar_normalises(raw: str, stored: str) -> None:
    assert users.normalize_email(raw) == stored


def test_one_envelope_recipient_whatever_the_header_says(
    mail_settings: Settings, envelopes: Envelopes
) -> None:
    Mailer(mail_settings).send(Mail("Victim@Example.org", "Hello", "One recipient."))
    assert [rcpt for rcpt, _ in envelopes.got] == [["victim@example.org"]]
    with pytest.raises(MailError, match="not one mailbox"):
        Mailer(mail_settings).send(Mail("x1@example.org,victim@example.org", "Hi", "No."))
    assert len(envelopes.got) == 1  # nothing went to either address


def _subscribe(client: TestClient, email: str) -> int:
    form = client.get("/subscribe")
    r = client.post("/subscribe", data={"email": email, "csrf_token": csrf_of(form.text)})
    assert client.app.state.mail_queue.wait_idle(20) if r.status_code == 200 else True  # type: ignore[attr-defined]
    return r.status_code


def test_subscribe_refuses_tricks_and_counts_one_address_once(
    mail_settings: Settings, database: Database, envelopes: Envelopes
) -> None:
    with TestClient(create_app(mail_settings, database)) as client:
        for trick in ("(N)victim@example.org", "x1,victim@example.org", "victim%x@example.org"):
            assert _subscribe(client, trick) == 400
        assert envelopes.got == []
        spellings = ["victim@example.org", "Victim@example.org", " victim@EXAMPLE.ORG"]
        codes = [_subscribe(client, spellings[i % 3]) for i in range(12)]
    assert codes == [200] * 12  # the same answer every time ...
    # ... but one address, one counter: PAPERFEED_RATE_LIMIT_SUBSCRIBE (3/hour) mails.
    assert [rcpt for rcpt, _ in envelopes.got] == [["victim@example.org"]] * 3


def test_cli_commands_use_the_same_grammar(
    mail_settings: Settings, database: Database, envelopes: Envelopes, tmp_path: Path
) -> None:
    runner = CliRunner()
    for args in (
        ["subscribers", "add", "(N)victim@example.org"],
        ["subscribers", "add", "x1,victim@example.org"],
        ["users", "create", "x1,victim@example.org", "--username", "victim"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code != 0 and "not an email address" in result.output, args
    csv = tmp_path / "list.csv"
    csv.write_text("email\n(N)victim@example.org\nOK@Example.org\n")
    result = runner.invoke(cli, ["subscribers", "import", str(csv), "--confirmed"])
    assert result.exit_code == 3
    assert f"{csv}:2: That is not an email address" in result.output
    assert [s.email for s in subs.list_all(database)] == ["ok@example.org"]
    assert envelopes.got == []


def test_the_longest_addresses_fit_the_rate_limit_counters(
    mail_settings: Settings, database: Database, envelopes: Envelopes
) -> None:
    """A 251-character address is valid; its counters' keys must still fit the database's
    255-character column (PostgreSQL refuses longer ones: a 500 before)."""
    longest = "a" * 64 + "@" + ".".join(c * 60 for c in "bcd") + ".org"
    with TestClient(create_app(mail_settings, database)) as client:
        assert _subscribe(client, longest) == 200
        page = client.get("/reset")
        r = client.post("/reset", data={"email": longest, "csrf_token": csrf_of(page.text)})
        assert r.status_code == 200
        page = client.get("/login")
        r = client.post(
            "/login",
            data={
                "login": "x" * 300 + longest,
                "password": "p" * 9,
                "csrf_token": csrf_of(page.text),
            },
        )
        assert r.status_code == 400
    assert [rcpt for rcpt, _ in envelopes.got] == [[longest]]
