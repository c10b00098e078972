"""Rate limits shared between processes (database counters, or Redis with
``PAPERFEED_REDIS_URL``), tested against real ``paperfeed serve`` subprocesses; and the
mailer's STARTTLS mode against aiosmtpd with a self-signed certificate made here."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed.community import users
from paperfeed.community.keys import forget_cached_keys
from paperfeed.community.login_delay import LoginDelay
from paperfeed.community.ratelimit import RateLimiter
from paperfeed.config import Settings, get_settings
from paperfeed.mail import Mail, Mailer, MailError
from paperfeed.store.db import Database
from paperfeed.store.models import RateLimitCounter
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, csrf_of

REDIS_ENV = "PAPERFEED_REDIS_URL"
REDIS_URL = os.environ.get("PAPERFEED_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
FAST = {
    "PAPERFEED_ARGON2_TIME_COST": "1",
    "PAPERFEED_ARGON2_MEMORY_KIB": "64",
    "PAPERFEED_SECRET_KEY": "test-secret-key-not-for-production",
    "PAPERFEED_LOGIN_FREE_FAILURES": "5",
    "PAPERFEED_RATE_LIMIT_LOGIN_IP": "1000/minute",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_or_skip() -> str:
    redis = pytest.importorskip("redis", reason="the redis client is not installed")
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture
def fast_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    forget_cached_keys()
    return get_settings()


@pytest.fixture
def redis_settings(fast_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAPERFEED_REDIS_URL", redis_or_skip())
    get_settings.cache_clear()
    return get_settings()


def _counter_rows(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(RateLimitCounter)) or 0)


# --- Redis ---------------------------------------------------------------------------------


def test_redis_counters_are_shared_by_limiters(
    redis_settings: Settings, database: Database
) -> None:
    """Two limiters (as in two worker processes) count together in Redis; the database
    table stays empty."""
    one = RateLimiter(database, redis_settings)
    two = RateLimiter(database, redis_settings)
    key = uuid.uuid4().hex  # this run's own counter: nothing else in db 15 is touched
    answers = [(one if i % 2 else two).hit("login", "5/minute", key) for i in range(7)]
    assert answers == [True] * 5 + [False] * 2
    assert one.storage.get(f"LIMITER/paperfeed/login/{key}/5/1/minute") == 7  # refused too
    assert _counter_rows(database) == 0
    one.clear("login", "5/minute", key)
    assert one.hit("login", "5/minute", key)


def test_sixth_login_refused_with_redis(redis_settings: Settings, database: Database) -> None:
    users.create_user(database, redis_settings, "rita", "rita@example.org", PASSWORD)
    name = "rita"
    forget = LoginDelay(RateLimiter(database, redis_settings), redis_settings)
    forget.succeeded(users.login_key(database, name))  # left in Redis by an earlier run
    with TestClient(create_app(redis_settings, database)) as client:
        token = csrf_of(client.get("/login").text)
        codes = [
            client.post(
                "/login", data={"login": name, "password": "wrong password", "csrf_token": token}
            ).status_code
            for _ in range(5)
        ]
        assert codes == [400] * 5
        r = client.post(
            "/login",
            data={"login": name, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 429  # even the right password, once over the limit
    assert _counter_rows(database) == 0  # the counters were in Redis
    forget.succeeded(users.login_key(database, name))


# --- several processes ---------------------------------------------------------------------


def _serve(workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("paperfeed")
    command = [str(exe), "serve", "--workers", str(workers), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            err = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"paperfeed serve did not start:\n{err[-2000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):  # pragma: no cover
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _attempt(base: str, login: str, password: str) -> int:
    """One login from a new client on a new connection (so any worker may answer)."""
    with httpx.Client(base_url=base, headers={"Connection": "close"}) as client:
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"login": login, "password": password, "csrf_token": token})
        return r.status_code


@pytest.fixture
def served_env(fast_settings: Settings, database: Database) -> Callable[..., dict[str, str]]:
    users.create_user(database, fast_settings, "walt", "walt@example.org", PASSWORD)

    def env(**extra: str) -> dict[str, str]:
        # The settings fixture exported PAPERFEED_DATABASE_URL / DATA_DIR: same database.
        return {**os.environ, **FAST, "PAPERFEED_EMBEDDING_BACKEND": "off", **extra}

    return env


def _sixth_refused(bases: list[str]) -> None:
    codes = [_attempt(bases[i % len(bases)], "walt", "wrong password") for i in range(5)]
    assert codes == [400] * 5
    for i in range(4):  # the right password too, from any process
        assert _attempt(bases[i % len(bases)], "walt", PASSWORD) == 429


@pytest.mark.slow  # real multi-process servers
@pytest.mark.parametrize("storage", ["database", "redis"])
def test_login_limit_holds_across_two_workers(
    storage: str, served_env: Callable[..., dict[str, str]]
) -> None:
    """``serve --workers 2``: every attempt on a fresh connection, which either worker may
    accept; the 6th attempt is refused all the same."""
    extra = {REDIS_ENV: redis_or_skip()} if storage == "redis" else {}
    process, base = _serve(2, served_env(**extra))
    try:
        if extra:  # a counter left in Redis by an earlier run (walt is account 1)
            on_redis = Settings(redis_url=extra[REDIS_ENV])
            limiter = RateLimiter(Database("sqlite://"), on_redis)
            LoginDelay(limiter, on_redis).succeeded("account:1")
        _sixth_refused([base])
    finally:
        _stop(process)


@pytest.mark.slow  # real multi-process servers
def test_login_limit_holds_across_two_servers(served_env: Callable[..., dict[str, str]]) -> None:
    """Two separate server processes on the same database, attempts alternating between them
    (so it is certain that both answer): database counters are shared."""
    first, base_1 = _serve(1, served_env())
    try:
        second, base_2 = _serve(1, served_env())
        try:
            _sixth_refused([base_1, base_2])
        finally:
            _stop(second)
    finally:
        _stop(first)


# --- mail: STARTTLS ------------------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: with ``cryptography`` when it is installed,
    else with the ``openssl`` command; skipped when neither is there."""
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither cryptography nor the openssl command is installed")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key_path),
             "-out", str(cert_path), "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:TRUE"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _TlsSink:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bool, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.content, session.ssl is not None, session.auth_data))
        return "250 Message accepted"


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[tuple[int, _TlsSink, Path]]:
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    smtp_mod = pytest.importorskip("aiosmtpd.smtp")
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    sink = _TlsSink()

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        ok = auth_data.login == b"mailer" and auth_data.password == b"mail secret"
        return smtp_mod.AuthResult(success=ok, auth_data=auth_data.login if ok else None)

    port = _free_port()
    controller = controller_mod.Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_ctx,
        require_starttls=True,  # nothing but EHLO/STARTTLS/QUIT before TLS
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield port, sink, cert
    finally:
        controller.stop()
        asyncio.set_event_loop(None)


def _mail_settings(port: int, **extra: Any) -> Settings:
    return Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="starttls",
        smtp_timeout=5,
        mail_from="paperfeed@example.org",
        **extra,
    )


def test_starttls_mail_is_encrypted_and_authenticated(
    starttls_server: tuple[int, _TlsSink, Path],
) -> None:
    port, sink, cert = starttls_server
    trusting = ssl.create_default_context(cafile=str(cert))
    settings = _mail_settings(port, smtp_user="mailer", smtp_password="mail secret")
    Mailer(settings, ssl_context=trusting).send(Mail("ann@example.org", "Hello", "Over TLS."))
    assert len(sink.messages) == 1
    content, over_tls, auth = sink.messages[0]
    assert over_tls and auth == b"mailer"
    assert b"Subject: Hello" in content and b"Over TLS." in content


def test_starttls_refuses_an_untrusted_certificate(
    starttls_server: tuple[int, _TlsSink, Path],
) -> None:
    """The default context verifies the certificate: a self-signed one is refused, and
    nothing (no password, no message) is sent in the clear instead."""
    port, sink, _cert = starttls_server
    settings = _mail_settings(port, smtp_user="mailer", smtp_password="mail secret")
    with pytest.raises(MailError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        Mailer(settings).send(Mail("ann@example.org", "Hello", "Never sent."))
    assert sink.messages == []
