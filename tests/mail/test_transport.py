"""The one SMTP transport, seen through both of its users: the account mailer (one message a
connection) and the digest sender (one connection, many messages). Each greets, upgrades
and logs in the same way, so each behaves the same against the same server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from paperfeed.config import Settings
from paperfeed.digest.smtp import Outcome, SmtpSender
from paperfeed.mail import ConnectFailed, Mail, Mailer
from tests.digest.conftest import free_port

FROM = "paperfeed@example.org"


@dataclass
class _Seen:
    messages: list[bytes] = field(default_factory=list)
    quits: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 Message accepted"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


class _NoEsmtp(SMTP):
    """An old server: EHLO is not a command it knows, HELO is."""

    async def smtp_EHLO(self, hostname: str) -> None:
        await self.push("502 5.5.2 Error: command not recognized")


class _OldServer(Controller):
    def factory(self) -> SMTP:
        return _NoEsmtp(self.handler)


def _refuse_everyone(*args: Any) -> AuthResult:
    return AuthResult(success=False, handled=False)  # handled=False: aiosmtpd answers 535


def _serve(controller_class: type[Controller], **kwargs: Any) -> Iterator[tuple[int, _Seen]]:
    seen, port = _Seen(), free_port()
    controller = controller_class(seen, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, seen
    finally:
        controller.stop()
        asyncio.set_event_loop(None)


@pytest.fixture
def old_server() -> Iterator[tuple[int, _Seen]]:
    yield from _serve(_OldServer)


@pytest.fixture
def refusing_login() -> Iterator[tuple[int, _Seen]]:
    yield from _serve(Controller, authenticator=_refuse_everyone, auth_require_tls=False)


def _settings(port: int, **extra: Any) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_timeout=5,
        mail_from=FROM,
        **extra,
    )


def _by_mailer(settings: Settings) -> None:
    Mailer(settings).send(Mail("ann@example.org", "Hello", "A line."))


def _by_digest(settings: Settings) -> None:
    sender = SmtpSender(settings)
    sender.ensure()
    try:
        result = sender.send(FROM, "ann@example.org", b"Subject: Hello\r\n\r\nA line.\r\n")
    finally:
        sender.close()
    assert result.outcome is Outcome.SENT, result


CLIENTS = pytest.mark.parametrize("send", [_by_mailer, _by_digest], ids=["mailer", "digest"])


@CLIENTS
def test_a_server_without_esmtp_is_greeted_with_helo(
    old_server: tuple[int, _Seen], send: Callable[[Settings], None]
) -> None:
    """Before the shared transport the digest sent MAIL after a refused EHLO (and the
    server answered 503 "send HELO first", a permanent failure for every subscriber)."""
    port, seen = old_server
    send(_settings(port))
    assert len(seen.messages) == 1 and b"A line." in seen.messages[0]


@CLIENTS
def test_a_session_refused_at_login_is_quit(
    refusing_login: tuple[int, _Seen], send: Callable[[Settings], None]
) -> None:
    port, seen = refusing_login
    with pytest.raises(ConnectFailed, match=r"SMTP 127\.0\.0\.1:\d+: .*535"):
        send(_settings(port, smtp_user="mailer", smtp_password="wrong"))
    assert seen.messages == []
    assert seen.quits == 1


@pytest.fixture
def plain_server() -> Iterator[tuple[int, _Seen]]:
    yield from _serve(Controller)


@CLIENTS
def test_with_a_relay_nothing_goes_to_the_outbox(
    plain_server: tuple[int, _Seen], send: Callable[[Settings], None], tmp_path: Path
) -> None:
    """The outbox is only for a site with no relay: with one, the relay gets the mail."""
    port, seen = plain_server
    send(_settings(port, data_dir=tmp_path))
    assert len(seen.messages) == 1
    assert not (tmp_path / "outbox").exists()
