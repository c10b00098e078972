"""Login throttling keyed on the account, with a growing wait instead of a lock: through the
real login form, with counters in the real database."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import users
from paperfeed.community.login_delay import LoginDelay
from paperfeed.community.ratelimit import RateLimiter
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, csrf_of

WRONG = "not the password"


def attempt(client: TestClient, login: str, password: str) -> int:
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return r.status_code


@pytest.fixture
def quick(community_settings: Settings) -> Settings:
    """A 1-second first wait, so that a test can sit one out."""
    return community_settings.model_copy(
        update={"login_delay_seconds": 1.0, "login_delay_max_seconds": 4.0}
    )


def test_waits_grow_and_are_capped(community_settings: Settings, database: Database) -> None:
    delay = LoginDelay(RateLimiter(database, community_settings), community_settings)
    waits = [delay.wait_for(n) for n in range(1, 12)]
    assert waits == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]


def test_username_and_address_share_one_count(app_client: TestClient, make_user: Any) -> None:
    make_user("rosa")
    logins = ["rosa", "rosa@example.org", "ROSA", " Rosa@Example.org ", "rosa"]
    assert [attempt(app_client, name, WRONG) for name in logins] == [400] * 5
    assert attempt(app_client, "rosa@example.org", PASSWORD) == 429
    assert attempt(app_client, "rosa", PASSWORD) == 429


def test_unknown_logins_are_counted_on_their_normal_form(app_client: TestClient) -> None:
    codes = [attempt(app_client, n, WRONG) for n in ["Ghost@X.org", "ghost@x.org "] * 3]
    assert codes == [400] * 5 + [429]


def test_right_password_works_after_the_wait_however_hard_it_was_hammered(
    quick: Settings, site_db: Database, make_user: Any
) -> None:
    make_user("sara")
    with TestClient(create_app(quick, site_db)) as client:
        assert [attempt(client, "sara", WRONG) for _ in range(5)] == [400] * 5
        # Inside the wait nothing is checked or counted: the wait does not grow.
        assert [attempt(client, "sara", WRONG) for _ in range(20)] == [429] * 20
        time.sleep(1.2)  # the first wait is 1 s
        assert attempt(client, "sara", PASSWORD) == 303
        # A success forgets the failures: five free ones again.
        assert [attempt(client, "sara", WRONG) for _ in range(5)] == [400] * 5


def test_one_checked_attempt_per_wait(quick: Settings, site_db: Database, make_user: Any) -> None:
    make_user("tia")
    with TestClient(create_app(quick, site_db)) as client:
        assert [attempt(client, "tia", WRONG) for _ in range(5)] == [400] * 5
        time.sleep(1.2)
        assert attempt(client, "tia", WRONG) == 400  # checked, failed: a 2 s wait starts
        assert attempt(client, "tia", PASSWORD) == 429


def test_strangers_cannot_lock_the_owners_browser(
    community_settings: Settings, site_db: Database, make_user: Any
) -> None:
    """The owner's browser logged in before and carries the device cookie: a stranger's wrong
    guesses put the account in a wait for everyone else, never for that browser."""
    make_user("uma")
    app = create_app(community_settings, site_db)
    with TestClient(app) as owner, TestClient(app) as stranger:
        assert attempt(owner, "uma", PASSWORD) == 303
        owner.post("/logout", data={"csrf_token": csrf_of(owner.get("/account").text)})
        assert [attempt(stranger, "uma", WRONG) for _ in range(8)] == [400] * 5 + [429] * 3
        assert attempt(owner, "uma", PASSWORD) == 303
        assert attempt(stranger, "uma", PASSWORD) == 429
        # A forged device cookie is no way round the wait.
        stranger.cookies.set("pf_device", owner.cookies["pf_device"][:-2] + "00")
        assert attempt(stranger, "uma", PASSWORD) == 429


def test_login_key_names_the_account(community_settings: Settings, site_db: Database) -> None:
    account = users.create_user(site_db, community_settings, "vera", "vera@example.org", PASSWORD)
    keys = {users.login_key(site_db, n) for n in ("vera", "VERA@example.org", " vera ")}
    assert keys == {f"account:{account.id}"}
    assert users.login_key(site_db, "Nobody@X.org") == "unknown:nobody@x.org"
