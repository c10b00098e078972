"""The mail queue: pages hand mail over and answer at once; a mail that cannot be sent is
logged with its recipient, never dropped silently."""

from __future__ import annotations

import logging
import socket

import pytest

from paperfeed.config import Settings
from paperfeed.mail import Mail, Mailer, MailQueue


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
