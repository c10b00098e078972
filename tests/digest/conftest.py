"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives and can be told to
fail: per address, answer RCPT or DATA with a code, drop the connection, or reply slowly."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import insert

from paperfeed.community.keys import forget_cached_keys
from paperfeed.config import Settings, get_settings
from paperfeed.store.db import Database
from paperfeed.store.models import Subscriber
from tests.web.conftest import seed_site

# A fault: None (accept), "421 ..."-style reply, "drop", or ("slow", seconds).
Fault = str | tuple[str, float] | None


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    # (address, phase) -> fault; phase is "rcpt" or "data"
    faults: dict[tuple[str, str], Fault] = field(default_factory=dict)
    rule: Callable[[str, str], Fault] | None = None
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, address: str, phase: str) -> Fault:
        if self.rule is not None:
            found = self.rule(address, phase)
            if found is not None:
                return found
        return self.faults.get((address, phase))

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def _apply(self, server: Any, fault: Fault) -> str | None:
        if fault is None:
            return None
        if fault == "drop":
            server.transport.close()
            return "421 dropped"  # never reaches the client
        if isinstance(fault, tuple):
            await asyncio.sleep(fault[1])
            return None
        return fault

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        reply = await self._apply(server, self.sink.fault(address, "rcpt"))
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        reply = await self._apply(server, self.sink.fault(address, "data"))
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append(message)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(_Handler(sink), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def digest_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, smtp_sink: SmtpSink
) -> Settings:
    for name, value in {
        "PAPERFEED_SECRET_KEY": "test-secret-key-not-for-production",
        "PAPERFEED_SMTP_HOST": smtp_sink.host,
        "PAPERFEED_SMTP_PORT": str(smtp_sink.port),
        "PAPERFEED_SMTP_TLS": "none",
        "PAPERFEED_SMTP_TIMEOUT": "2",
        "PAPERFEED_MAIL_FROM": "digest@paperfeed.test",
        "PAPERFEED_BASE_URL": "https://papers.example.org",
        "PAPERFEED_DIGEST_RATE_PER_SECOND": "0",
        "PAPERFEED_RATE_LIMIT_SUBSCRIBE_IP": "1000/minute",
        "PAPERFEED_EMBEDDING_BACKEND": "off",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    forget_cached_keys()
    return get_settings()


@pytest.fixture
def digest_db(digest_settings: Settings, database: Database) -> Database:
    seed_site(database)
    return database


def add_confirmed_subscribers(db: Database, n: int, at: dt.datetime) -> None:
    """``n`` confirmed daily subscribers without topics, ``r0000@example.org`` onwards."""
    with db.write() as session:
        session.execute(
            insert(Subscriber),
            [
                {
                    "email": f"r{i:04d}@example.org",
                    "status": "confirmed",
                    "period": "daily",
                    "timezone": "UTC",
                    "send_hour": 7,
                    "send_weekday": 0,
                    "max_papers": 10,
                    "categories": [],
                    "keywords": [],
                    "authors": [],
                    "consent_at": at,
                    "consent_source": "test",
                    "created_at": at,
                    "updated_at": at,
                }
                for i in range(n)
            ],
        )


def sender_env(settings: Settings, sink: SmtpSink, **extra: str) -> dict[str, str]:
    """Environment for a ``paperfeed digest send`` subprocess on this database and sink."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATA_DIR=str(settings.data_dir),
        PAPERFEED_DATABASE_URL=settings.sqlalchemy_url,
        PAPERFEED_SECRET_KEY=settings.secret_key or "",
        PAPERFEED_SMTP_HOST=sink.host,
        PAPERFEED_SMTP_PORT=str(sink.port),
        PAPERFEED_SMTP_TLS="none",
        PAPERFEED_MAIL_FROM="digest@paperfeed.test",
        PAPERFEED_EMBEDDING_BACKEND="off",
        **extra,
    )
    return env
