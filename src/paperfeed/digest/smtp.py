"""A connection-reusing SMTP sender that reports each recipient's outcome.

Not a second SMTP client: it connects, upgrades to TLS, logs in and quits only through the
one transport (:func:`paperfeed.mail.transport.connect` / ``close``, which raise
``ConnectFailed``). What it adds is the ledger's side of a session: one connection carries
many messages (MAIL, RCPT, DATA, then RSET after a refusal), a 421 or a dropped connection
closes it and the next message reconnects, and each message ends in an outcome.

Outcomes (Mailman's rules): 2xx sent; 4xx and 552 deferred (temporary); other 5xx failed
(permanent). A connection that drops or times out before the end of the message: deferred
(the server discards an incomplete DATA). One that drops or times out after the whole
message went out, while waiting for the server's final reply: *uncertain*, because the
server may have accepted it; it is never retried blindly.

A site with no relay (``PAPERFEED_SMTP_HOST`` unset) has the transport's outbox instead of a
connection (:func:`paperfeed.mail.transport.outbox`): each message is written there and is
``sent``; one that cannot be written (a full disk) is ``deferred``.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from enum import StrEnum

from paperfeed.config import Settings
from paperfeed.mail import transport


class Outcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    code: int | None
    detail: str


def classify(code: int) -> Outcome:
    if 200 <= code < 300:
        return Outcome.SENT
    if 400 <= code < 500 or code == 552:
        return Outcome.DEFERRED
    return Outcome.FAILED


def _text(reply: bytes | str) -> str:
    value = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(value.split())[:300]


class SmtpSender:
    def __init__(self, settings: Settings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.smtp: smtplib.SMTP | None = None
        self.outbox = transport.outbox(settings)
        self.messages_on_connection = 0

    def connect(self) -> None:
        self.smtp = transport.connect(self.settings, self.ssl_context)
        self.messages_on_connection = 0

    def ensure(self) -> None:
        """Connected (reconnecting when needed) before anything is claimed."""
        if self.smtp is None and self.outbox is None:
            self.connect()

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            transport.close(smtp)

    def _drop(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def _refused(self, code: int, reply: bytes) -> Result:
        outcome = classify(code)
        if code == 421:
            self._drop()  # the server is closing the session
        elif self.smtp is not None:
            try:
                self.smtp.rset()
            except (OSError, smtplib.SMTPException):
                self._drop()
        return Result(outcome, code, _text(reply))

    def _to_outbox(self, recipient: str, data: bytes) -> Result:
        assert self.outbox is not None
        try:
            name = self.outbox.write(data)
        except OSError as exc:
            return Result(Outcome.DEFERRED, None, f"outbox: {exc}")
        return Result(Outcome.SENT, None, f"outbox {name} ({recipient})")

    def send(self, sender: str, recipient: str, data: bytes) -> Result:
        """One message to one recipient over the current connection (call :meth:`ensure`
        first). Never raises for SMTP or network trouble: the outcome says what happened."""
        if self.outbox is not None:
            return self._to_outbox(recipient, data)
        smtp = self.smtp
        if smtp is None:
            return Result(Outcome.DEFERRED, None, "not connected")
        body_sent = False
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                return self._refused(code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                return self._refused(code, reply)
            code, reply = smtp.docmd("data")
            if code != 354:
                return self._refused(code, reply)
            # smtplib.SMTP.data, split so we know when the whole message has gone out.
            payload = smtplib._quote_periods(data)  # type: ignore[attr-defined]
            if payload[-2:] != b"\r\n":
                payload += b"\r\n"
            smtp.send(payload + b".\r\n")
            body_sent = True
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if body_sent:
                return Result(Outcome.UNCERTAIN, None, f"no reply after the message: {exc}")
            return Result(Outcome.DEFERRED, None, f"connection lost: {exc or type(exc).__name__}")
        if code == 250:
            self.messages_on_connection += 1
            return Result(Outcome.SENT, code, _text(reply))
        return self._refused(code, reply)
