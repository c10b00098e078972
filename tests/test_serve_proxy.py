"""``paperfeed serve`` believes ``X-Forwarded-For`` only from the proxies named in
``PAPERFEED_FORWARDED_ALLOW_IPS``: by default from nobody, not even loopback (uvicorn's own
default), so a client cannot pick the address its per-client rate limits are counted on."""

from __future__ import annotations

import os

import httpx
import pytest

from paperfeed.cli.serve import proxy_options
from paperfeed.config import Settings
from tests.community.conftest import csrf_of
from tests.community.test_limits_and_mail import FAST, _serve, _stop

pytestmark = pytest.mark.slow  # real uvicorn servers


def _signups_from(base: str, forwarded: list[str]) -> list[int]:
    """Refused sign-ups (bad username), each claiming another client address; the per-client
    sign-up limit counts them before the form is looked at."""
    with httpx.Client(base_url=base) as client:
        token = csrf_of(client.get("/signup").text)
        return [
            client.post(
                "/signup",
                data={"username": "<x>", "email": "a@example.org", "password": "p" * 12,
                      "csrf_token": token},
                headers={"X-Forwarded-For": ip},
            ).status_code
            for ip in forwarded
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("trusted", "codes"), [("", [400, 400, 429]), ("127.0.0.1", [400, 400, 400])]
)
def test_forwarded_for_is_believed_only_from_named_proxies(
    settings: Settings, trusted: str, codes: list[int]
) -> None:
    env = {
        **os.environ,  # the settings fixture exported this test's database and data dir
        **FAST,
        "PAPERFEED_EMBEDDING_BACKEND": "off",
        "PAPERFEED_RATE_LIMIT_SIGNUP_IP": "2/hour",
        "PAPERFEED_FORWARDED_ALLOW_IPS": trusted,
        "FORWARDED_ALLOW_IPS": "*",  # uvicorn's own variable must not widen the trust
    }
    process, base = _serve(1, env)
    try:
        assert _signups_from(base, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) == codes
    finally:
        _stop(process)


def test_proxy_options() -> None:
    assert proxy_options(Settings(forwarded_allow_ips="")) == {
        "proxy_headers": False,
        "forwarded_allow_ips": "",
    }
    assert proxy_options(Settings(forwarded_allow_ips=" 10.0.0.2, 10.0.0.3 ")) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.2,10.0.0.3",
    }
