"""The mail queue: pages hand mail over and answer at once; a mail that cannot be sent is
logged with its recipient, never dropped silently."""

from __future__ import annotations

import logging
import socket
from types import SimpleNamespace

import pytest
from jinja2 import UndefinedError

from paperfeed.config import Settings
from paperfeed.mail import Mail, Mailer, MailQueue, texts


def test_mail_the_server_refuses_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port nothing listens on: SMTP is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", smtp_timeout=2)
    queue = MailQueue(Mailer(settings))
    with caplog.at_level(logging.INFO, logger="paperfeed.mail"):
        queue.put(Mail("ann@example.org", "Reset", "A link."))
        queue.put(Mail("bob@example.org", "Verify", "A link."))
        assert queue.wait_idle(20)
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(lost) == 2
    assert "ann@example.org NOT sent (Reset)" in lost[0]
    assert "bob@example.org NOT sent (Verify)" in lost[1]


def test_link_mail_texts_are_plain_text_with_the_link() -> None:
    """Each link mail's template renders to text/plain: the site's address without a doubled
    slash, values as they are (no HTML escaping), and a value a template needs but was not
    given is an error rather than a blank."""
    settings = Settings(site_name="Papers & <Co>", base_url="https://example.org/feed/")
    account = SimpleNamespace(username="o'neil<b>", email="o@example.org")
    mails = {
        "digest_confirm": texts.link_mail(
            settings, "a@example.org", "S", "digest_confirm", email="a@example.org", token="7.x"
        ),
        "verify": texts.link_mail(
            settings, "o@example.org", "S", "verify", account=account, token="7.y"
        ),
        "reset": texts.link_mail(
            settings, "o@example.org", "S", "reset", account=account, token="7.z"
        ),
        "address_taken": texts.link_mail(settings, "o@example.org", "S", "address_taken"),
    }
    links = {
        "digest_confirm": "https://example.org/feed/subscribe/confirm/7.x",
        "verify": "https://example.org/feed/verify/7.y",
        "reset": "https://example.org/feed/reset/7.z",
        "address_taken": "https://example.org/feed/reset",
    }
    for name, mail in mails.items():
        assert f"{links[name]}\n" in mail.text, name
        assert "Papers & <Co>" in mail.text and "{" not in mail.text and mail.text.endswith(".\n")
    assert "o'neil<b>" in mails["verify"].text and "o'neil<b>" in mails["reset"].text
    with pytest.raises(UndefinedError):
        texts.link_mail(settings, "o@example.org", "S", "reset", account=account)
