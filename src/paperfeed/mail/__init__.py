"""Outgoing mail: one mailer over SMTP (reset, verification and confirmation links), and
the queue that pages hand their mail to. With no SMTP relay configured the mail goes to the
outbox on disk (:mod:`paperfeed.mail.outbox`), which an admin reads at ``/admin/outbox``.

Connecting, TLS, login and the envelope are :mod:`paperfeed.mail.transport`'s, shared with
the digest. The envelope recipient is the one checked address of :class:`Mail`.
"""

from __future__ import annotations

import atexit
import logging
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from paperfeed.community import CommunityError
from paperfeed.community.users import normalize_email
from paperfeed.config import Settings
from paperfeed.mail import transport
from paperfeed.mail.transport import ConnectFailed, MailError

__all__ = ["ConnectFailed", "Mail", "MailError", "MailQueue", "Mailer"]

log = logging.getLogger(__name__)
EXIT_GRACE_SECONDS = 5.0  # how long an exiting process still sends queued mail


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
        """Whether a relay is configured (else mail goes to the outbox)."""
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
        """To the relay, or with none to the outbox; :class:`MailError` when it failed."""
        try:
            recipient = normalize_email(mail.to)
        except CommunityError as exc:
            raise MailError(f"not one mailbox: {mail.to!r}") from exc
        where = transport.deliver(self.settings, self.build(mail), recipient, self.ssl_context)
        log.info("mail %s: %s", where, mail.subject)


class MailQueue:
    """Mail sent after the answer. A page puts its mail here and answers at once, so it takes
    the same time whether it mailed anyone or not (a reset for an unknown address, a
    subscription of an already confirmed one). One thread per process sends, in order.

    A mail that cannot be sent (the SMTP server down or refusing, the outbox unwritable) is
    logged with its recipient and subject at ERROR and dropped: the visitor can ask again. At
    exit the
    process gives the queue a few seconds, then logs each mail still waiting at ERROR."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self._waiting: deque[Mail] = deque()
        self._busy = 0  # queued plus the one being sent
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def put(self, mail: Mail) -> None:
        log.info("mail queued for %s: %s", mail.to, mail.subject)
        with self._cond:
            self._waiting.append(mail)
            self._busy += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mail-queue", daemon=True)
                self._thread.start()
                atexit.register(self._at_exit)
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once everything queued was sent or given up (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout)

    def _at_exit(self) -> None:
        if self.wait_idle(EXIT_GRACE_SECONDS):
            return
        with self._cond:
            for mail in self._waiting:
                log.error("mail to %s NOT sent (%s): the process exited", mail.to, mail.subject)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._waiting))
                mail = self._waiting.popleft()
            try:
                self.mailer.send(mail)
            except MailError as exc:
                log.error("mail to %s NOT sent (%s): %s", mail.to, mail.subject, exc)
            except Exception:  # the thread must outlive any one mail
                log.exception("mail to %s NOT sent (%s)", mail.to, mail.subject)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()
