"""Accounts through the real pages: sign up, log in and out, sessions, password rules,
identical failures, rate limits, reset links, deletion."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community import passwords, users
from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import User, UserSession
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, csrf_of, login, page_csrf


def signup(client: TestClient, username: str, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/signup")
    return client.post(
        "/signup",
        data={
            "username": username,
            "email": email,
            "password": password,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )


def test_signup_then_login_and_cookie_flags(app_client: TestClient) -> None:
    r = signup(app_client, "Alice_1", "alice@example.org")
    assert r.status_code == 200 and "Check your mail" in r.text  # a verification link
    assert "pf_session=" not in r.headers.get("set-cookie", "")
    page = app_client.get("/login")
    r = app_client.post(
        "/login",
        data={"login": "alice_1", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "pf_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie
    home = app_client.get("/")
    assert 'class="whoami">alice_1<' in home.text
    assert "Log out" in home.text


def test_secure_cookies_when_configured(
    community_settings: Settings, site_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    secure = community_settings.model_copy(update={"cookie_secure": True})
    with TestClient(create_app(secure, site_db), base_url="https://testserver") as client:
        assert signup(client, "bob", "bob@example.org").status_code == 200
        r = client.post(
            "/login",
            data={"login": "bob", "password": PASSWORD, "csrf_token": page_csrf(client, "/login")},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "__Host-pf_session=" in r.headers["set-cookie"]
        assert "Secure" in r.headers["set-cookie"]


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "at least 8"), ("password123", "common"), ("x" * 129, "at most 128")],
)
def test_password_rules(app_client: TestClient, password: str, problem: str) -> None:
    r = signup(app_client, "carol", "carol@example.org", password)
    assert r.status_code == 400
    assert problem in r.text


def test_long_passwords_up_to_128_accepted(app_client: TestClient) -> None:
    assert signup(app_client, "dave", "dave@example.org", "y" * 64 + "é" * 64).status_code == 200


def test_duplicate_and_bad_usernames(app_client: TestClient, make_user: Any) -> None:
    make_user("erin")
    assert signup(app_client, "ERIN", "other@example.org").status_code == 400
    assert signup(app_client, "<script>", "x@example.org").status_code == 400
    assert signup(app_client, "ok_name", "not-an-email").status_code == 400


def test_unknown_user_and_wrong_password_answer_identically(
    app_client: TestClient, make_user: Any
) -> None:
    make_user("frank")
    token = csrf_of(app_client.get("/login").text)
    answers = []
    for name in ("frank", "nobody-here"):
        r = app_client.post(
            "/login", data={"login": name, "password": "wrong password 1", "csrf_token": token}
        )
        answers.append((r.status_code, r.text))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400


def test_sixth_rapid_login_is_refused(app_client: TestClient, make_user: Any) -> None:
    make_user("gina")
    token = csrf_of(app_client.get("/login").text)
    codes = [
        app_client.post(
            "/login", data={"login": "gina", "password": "nope nope nope", "csrf_token": token}
        ).status_code
        for _ in range(6)
    ]
    assert codes == [400] * 5 + [429]
    # Even the right password is refused while the account is limited.
    r = app_client.post("/login", data={"login": "gina", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429


def test_session_rotates_at_login_and_logout_everywhere(
    community_settings: Settings, site_db: Database, make_user: Any
) -> None:
    make_user("hana")
    one = login(TestClient(create_app(community_settings, site_db)), "hana")
    two = login(TestClient(create_app(community_settings, site_db)), "hana")
    first = one.cookies.get("pf_session")
    login(one, "hana")
    assert one.cookies.get("pf_session") != first
    with site_db.read() as s:
        assert len(s.scalars(select(UserSession)).all()) == 2
    r = one.post(
        "/account/logout-everywhere", data={"csrf_token": page_csrf(one)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "Log in" in two.get("/account", follow_redirects=True).text
    with site_db.read() as s:
        assert s.scalars(select(UserSession)).all() == []


def test_logout(user_client: Any) -> None:
    client = user_client("ivan")
    r = client.post("/logout", data={"csrf_token": page_csrf(client)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_change_password(user_client: Any, community_settings: Settings, site_db: Database) -> None:
    client = user_client("jade")
    r = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "a brand new passphrase",
            "csrf_token": page_csrf(client),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert users.authenticate(site_db, community_settings, "jade", "a brand new passphrase")
    assert users.authenticate(site_db, community_settings, "jade", PASSWORD) is None


def test_rehash_when_parameters_change(
    community_settings: Settings, site_db: Database, make_user: Any
) -> None:
    make_user("kim")
    stronger = community_settings.model_copy(update={"argon2_time_cost": 2})
    with site_db.read() as s:
        before = s.scalar(select(User.password_hash).where(User.username == "kim"))
    assert before and before.startswith("$argon2id$")
    assert users.authenticate(site_db, stronger, "kim", PASSWORD)
    with site_db.read() as s:
        after = s.scalar(select(User.password_hash).where(User.username == "kim"))
    assert after != before and "t=2" in (after or "")
    assert not passwords.needs_rehash(after or "", stronger)


def test_reset_link_is_signed_expiring_and_single_use(
    community_settings: Settings, site_db: Database, make_user: Any, app_client: TestClient
) -> None:
    account = make_user("lea")
    token = users.reset_token(site_db, community_settings, account)
    assert users.check_reset_token(site_db, community_settings, token + "0") is None
    page = app_client.get(f"/reset/{token}")
    assert page.status_code == 200
    r = app_client.post(
        f"/reset/{token}", data={"password": "another long pass", "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 200 and "Your password is set" in r.text
    assert users.authenticate(site_db, community_settings, "lea", "another long pass")
    again = app_client.get(f"/reset/{token}")
    assert again.status_code == 400  # used: the hash changed, the signature no longer holds
    expired = community_settings.model_copy(update={"reset_link_minutes": -1})
    old = users.reset_token(site_db, expired, account)
    assert users.check_reset_token(site_db, community_settings, old) is None


def test_delete_account_removes_votes_and_comments(user_client: Any, site_db: Database) -> None:
    client = user_client("mia")
    token = page_csrf(client)
    client.post("/papers/2503.00001/upvote", data={"csrf_token": token, "action": "add"})
    client.post("/papers/2503.00001/comments", data={"csrf_token": token, "body": "hello"})
    paper = client.get("/api/papers/2503.00001").json()
    assert paper["upvotes"] == 11
    r = client.post(
        "/account/delete", data={"csrf_token": token, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303
    assert client.get("/api/papers/2503.00001").json()["upvotes"] == 10
    assert client.get("/api/papers/2503.00001/comments").json() == []
    with site_db.read() as s:
        assert s.scalar(select(User).where(User.username == "mia")) is None


def test_banned_user_cannot_log_in(
    community_settings: Settings, site_db: Database, make_user: Any
) -> None:
    make_user("ned")
    users.set_banned(site_db, "ned", True)
    assert users.authenticate(site_db, community_settings, "ned", PASSWORD) is None
