"""Outgoing mail: one mailer over SMTP (reset links now, digests later).

Settings: ``PAPERFEED_SMTP_HOST/PORT/USER/PASSWORD/TLS/TIMEOUT`` and ``PAPERFEED_MAIL_FROM``.
``smtp_tls``: ``starttls`` (upgrade a plain connection, certificate verified), ``tls``
(implicit TLS from the first byte) or ``none`` (loopback test servers). Blocking
(``smtplib``): call it from a worker thread, never on the event loop.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from paperfeed.config import Settings

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer:
    def __init__(self, settings: Settings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.ssl_context = ssl_context or ssl.create_default_context()

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def build(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(
            domain=self.settings.mail_from.rpartition("@")[2] or None
        )
        message.set_content(mail.text)
        return message

    def send(self, mail: Mail) -> None:
        s = self.settings
        if not s.smtp_host:
            raise MailError("no SMTP server is configured (PAPERFEED_SMTP_HOST)")
        message = self.build(mail)
        try:
            smtp: smtplib.SMTP
            if s.smtp_tls == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=self.ssl_context
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            with smtp:
                if s.smtp_tls == "starttls":
                    smtp.starttls(context=self.ssl_context)
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from exc
        log.info("mail sent to %s: %s", mail.to, mail.subject)
