"""The one SMTP transport: connect, TLS, login, hand over a message, quit.

Every mail paperfeed sends goes through here: the account mail (:class:`paperfeed.mail.Mailer`)
one message a connection, the digest (:mod:`paperfeed.digest.smtp`) many messages on one
connection it opens with :func:`connect`. A site with no relay (``PAPERFEED_SMTP_HOST``
unset) has its mail written to the outbox on disk instead (:mod:`paperfeed.mail.outbox`):
:func:`deliver` and :func:`outbox` choose, so both users take the same road.

Settings: ``PAPERFEED_SMTP_HOST/PORT/USER/PASSWORD/TLS/TIMEOUT`` and ``PAPERFEED_MAIL_FROM``.
``smtp_tls``: ``starttls`` (upgrade a plain connection, certificate verified), ``tls``
(implicit TLS from the first byte) or ``none`` (loopback test servers). Blocking
(``smtplib``): call it from a worker thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage

from paperfeed.config import Settings
from paperfeed.mail.outbox import Outbox


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


class ConnectFailed(MailError):
    """The server could not be reached or refused the session; nothing was claimed."""


def outbox(settings: Settings) -> Outbox | None:
    """Where mail goes when this site has no relay, or None when it has one."""
    return None if settings.smtp_host else Outbox.of(settings)


def require_server(settings: Settings) -> str:
    """The SMTP host, or :class:`ConnectFailed` when none is configured."""
    if not settings.smtp_host:
        raise ConnectFailed("no SMTP server is configured (PAPERFEED_SMTP_HOST)")
    return settings.smtp_host


def _where(settings: Settings, exc: BaseException) -> str:
    return f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}"


def _open(host: str, settings: Settings, ssl_context: ssl.SSLContext) -> smtplib.SMTP:
    port, timeout = settings.smtp_port, settings.smtp_timeout
    if settings.smtp_tls == "tls":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl_context)
    return smtplib.SMTP(host, port, timeout=timeout)


def _greet(smtp: smtplib.SMTP, settings: Settings, ssl_context: ssl.SSLContext) -> None:
    # EHLO, falling back to HELO for a server without ESMTP. STARTTLS makes smtplib forget
    # the greeting (RFC 3207), so the second call greets again, now over TLS.
    smtp.ehlo_or_helo_if_needed()
    if settings.smtp_tls == "starttls":
        smtp.starttls(context=ssl_context)
        smtp.ehlo_or_helo_if_needed()
    if settings.smtp_user:
        smtp.login(settings.smtp_user, settings.smtp_password or "")


def connect(settings: Settings, ssl_context: ssl.SSLContext) -> smtplib.SMTP:
    """An open, greeted (TLS as configured, logged in) session, or :class:`ConnectFailed`."""
    host = require_server(settings)
    smtp: smtplib.SMTP | None = None
    try:
        smtp = _open(host, settings, ssl_context)
        _greet(smtp, settings, ssl_context)
    except (OSError, smtplib.SMTPException) as exc:
        if smtp is not None:
            close(smtp)
        raise ConnectFailed(_where(settings, exc)) from exc
    return smtp


def close(smtp: smtplib.SMTP) -> None:
    """QUIT, or just close the socket when the session is already broken."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            smtp.close()


def send(
    settings: Settings, message: EmailMessage, recipient: str, ssl_context: ssl.SSLContext
) -> None:
    """One message on its own connection. The envelope is explicit: MAIL FROM the site's
    address, RCPT TO the one checked ``recipient``, never re-parsed from the ``To`` header
    (where ``a@x, b@y`` would be two recipients)."""
    smtp = connect(settings, ssl_context)
    try:
        with smtp:
            smtp.send_message(message, from_addr=settings.mail_from, to_addrs=[recipient])
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(_where(settings, exc)) from exc


def deliver(
    settings: Settings, message: EmailMessage, recipient: str, ssl_context: ssl.SSLContext
) -> str:
    """One message to the relay (:func:`send`), or, with none, to the outbox. Returns where
    it went, for the log."""
    box = outbox(settings)
    if box is None:
        send(settings, message, recipient, ssl_context)
        return f"sent to {recipient}"
    try:
        name = box.write(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
    except OSError as exc:
        raise MailError(f"outbox {box.directory}: {exc}") from exc
    return f"written to the outbox ({name}) for {recipient}"
