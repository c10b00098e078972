"""The outbox: with no SMTP relay, mail is written to ``DATA_DIR/outbox`` (one RFC 5322 file a
message, atomically), listed newest first, read back, and kept bounded."""

from __future__ import annotations

import logging
import os
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.digest.smtp import Outcome, SmtpSender
from paperfeed.mail import Mail, Mailer, MailError, MailQueue
from paperfeed.mail.outbox import Outbox, outbox_dir, segments

FROM = "paperfeed@example.org"


def _no_relay(tmp_path: Path, **kwargs: object) -> Settings:
    return Settings(data_dir=tmp_path, smtp_host=None, mail_from=FROM, **kwargs)  # type: ignore[arg-type]


def test_mail_without_relay_is_written_listed_and_read(tmp_path: Path) -> None:
    settings = _no_relay(tmp_path, base_url="https://papers.example.org")
    link = "https://papers.example.org/subscribe/confirm/1.2.abc"
    Mailer(settings).send(Mail("Ann@Example.org", "First", "one\n"))
    Mailer(settings).send(Mail("bob@example.org", "Confirm", f"Open {link}.\nThanks\n"))
    box = Outbox.of(settings)
    files = sorted(outbox_dir(settings).iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no temporary file left behind
    parsed = message_from_bytes(files[1].read_bytes(), policy=policy.default)
    assert parsed["To"] == "bob@example.org" and parsed["From"] == FROM
    assert b"\r\n" in files[1].read_bytes()  # RFC 5322 line ends

    total, entries = box.page(0, 10)
    assert total == 2
    assert [e.subject for e in entries] == ["Confirm", "First"]  # newest first
    assert box.page(1, 10)[1][0].subject == "First"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", entries[0].when)

    shown = box.read(entries[0].name)
    assert shown is not None and shown.html_source is None
    assert ("Subject", "Confirm") in shown.headers
    assert (link, True) in segments(shown.text)  # the link, without the sentence's full stop


@pytest.mark.parametrize(
    "name", ["../paperfeed.db", "x.eml", "00000000000000000001-0123456789ab.eml", ""]
)
def test_only_messages_of_the_outbox_are_read(tmp_path: Path, name: str) -> None:
    (tmp_path / "paperfeed.db").write_text("secret")
    assert Outbox(tmp_path / "outbox", 10).read(name) is None


def test_outbox_keeps_at_most_its_cap_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "outbox", 3)
    with caplog.at_level(logging.WARNING, logger="paperfeed.mail.outbox"):
        names = [box.write(f"Subject: m{i}\r\n\r\nbody\r\n".encode()) for i in range(5)]
    assert box.names() == names[2:]  # the two oldest went
    assert sum("deleted the 1 oldest" in r.getMessage() for r in caplog.records) == 2


def test_segments_link_only_http_urls() -> None:
    text = "see <https://a.example/x?y=1>, javascript:alert(1) and http://b.example/."
    assert segments(text) == [
        ("see <", False),
        ("https://a.example/x?y=1", True),
        (">, javascript:alert(1) and ", False),
        ("http://b.example/", True),
        (".", False),
    ]


def test_mail_queue_without_relay_fills_the_outbox(tmp_path: Path) -> None:
    queue = MailQueue(Mailer(_no_relay(tmp_path)))
    queue.put(Mail("ann@example.org", "Reset", "A link."))
    assert queue.wait_idle(10)
    assert Outbox(tmp_path / "outbox", 10).page(0, 5)[1][0].to == "ann@example.org"


def test_unwritable_outbox_is_a_mail_error(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("a file where the folder should be")
    with pytest.raises(MailError, match="outbox"):
        Mailer(_no_relay(tmp_path)).send(Mail("ann@example.org", "Reset", "A link."))


def test_digest_sender_without_relay_writes_to_the_outbox(tmp_path: Path) -> None:
    """The digest's sender takes the same road: each message is a file, and is sent."""
    sender = SmtpSender(_no_relay(tmp_path))
    sender.ensure()  # no connection to make, none refused
    data = b"From: x@example.org\r\nTo: ann@example.org\r\nSubject: Digest\r\n\r\nHi\r\n"
    result = sender.send(FROM, "ann@example.org", data)
    assert result.outcome is Outcome.SENT
    (name,) = os.listdir(tmp_path / "outbox")
    assert (tmp_path / "outbox" / name).read_bytes() == data
    sender.close()


def test_outbox_command_lists_shows_and_clears(settings: Settings) -> None:
    box = Outbox.of(settings)
    for i in range(3):
        box.write(f"To: a@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n".encode())
    runner = CliRunner()
    listed = runner.invoke(cli, ["outbox", "list"])
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.stdout.splitlines() if "\t" in line]
    assert [line.split("\t")[3] for line in lines] == ["m2", "m1", "m0"]
    shown = runner.invoke(cli, ["outbox", "show", lines[0].split("\t")[0]])
    assert "body 2" in shown.output
    assert runner.invoke(cli, ["outbox", "show", "../x"]).exit_code == 1
    cleared = runner.invoke(cli, ["outbox", "clear", "--keep", "1"])
    assert "deleted 2 message(s)" in cleared.output
    assert [e.subject for e in box.page(0, 10)[1]] == ["m2"]
