"""Account addresses are verified by a signed, expiring, single-use link before anything is
linked to them; sign-up, reset and subscribe answer the same whether an address is known.
Real pages, a real database and a real aiosmtpd server."""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from paperfeed.cli import cli
from paperfeed.community import users
from paperfeed.config import Settings
from paperfeed.digest import subscriptions as subs
from paperfeed.store.db import Database
from paperfeed.store.migrate import upgrade
from paperfeed.web.app import create_app
from tests.community.conftest import PASSWORD, Envelopes, csrf_of, login

VERIFY_RE = re.compile(r"http://127\.0\.0\.1:8000(/verify/\S+)")
CSRF_FIELD = re.compile(r'name="csrf_token" value="[^"]+"')


@pytest.fixture
def client(mail_settings: Settings, database: Database) -> Any:
    with TestClient(create_app(mail_settings, database)) as c:
        yield c


def settle(client: TestClient) -> None:
    """Mail goes out after the answer: wait for the queue before looking at the server."""
    queue = getattr(client.app.state, "mail_queue", None)  # type: ignore[attr-defined]
    assert queue is None or queue.wait_idle(20)


def post(client: TestClient, path: str, form: str, **data: str) -> Any:
    token = csrf_of(client.get(form).text)
    r = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
    settle(client)
    return r


def body(r: Any) -> str:
    return CSRF_FIELD.sub("", r.text)


def signup(client: TestClient, name: str, email: str) -> Any:
    return post(client, "/signup", "/signup", username=name, email=email, password=PASSWORD)


def verify_path(envelopes: Envelopes, address: str) -> str:
    mails = envelopes.to(address)
    assert len(mails) == 1
    message = email.message_from_bytes(mails[0], policy=email.policy.default)
    m = VERIFY_RE.search(message.get_content())
    assert m
    return m.group(1)


def test_unverified_account_gets_nothing_of_the_address(
    client: TestClient, database: Database, mail_settings: Settings, envelopes: Envelopes
) -> None:
    """Mallory signs up with Vic's address: /account/digest shows neither Vic's subscription
    nor its manage link, and subscribing from the account changes nothing of it."""
    view, _ = subs.add(
        database,
        mail_settings,
        "vic@example.org",
        confirmed=True,
        prefs=subs.make_prefs(mail_settings, keywords=["private topic"]),
    )
    manage = subs.link_token(database, mail_settings, "manage", view.id)
    assert (
        signup(client, "mallory", "vic@example.org").status_code == 200
    )  # taken: answered as usual
    envelopes.got.clear()
    assert signup(client, "mallory2", "Mallory@example.org").status_code == 200
    login(client, "mallory2")
    page = client.get("/account/digest")
    assert page.status_code == 200 and "Verify your account&#39;s address first" in page.text
    assert manage not in page.text and "/subscriptions/" not in page.text
    r = post(client, "/subscribe", "/subscribe", period="weekly", keywords="x")
    assert r.status_code == 403 and "Verify your account" in r.text
    assert subs.get_by_email(database, "mallory@example.org") is None
    # The link mailed at sign-up: GET shows a button (scanners change nothing), POST verifies.
    path = verify_path(envelopes, "mallory@example.org")
    assert "Verify my address" in client.get(path).text
    assert "Verify your account" in client.get("/account/digest").text
    done = post(client, path, path)
    assert done.status_code == 200 and "is verified" in done.text
    assert post(client, path, "/").status_code == 400  # single use
    assert "Verify your account" not in client.get("/account/digest").text
    assert subs.get_by_email(database, "vic@example.org") == view  # untouched throughout


def test_resend_and_expired_links(
    client: TestClient, database: Database, mail_settings: Settings, envelopes: Envelopes
) -> None:
    signup(client, "nina", "nina@example.org")
    login(client, "nina")
    account = users.get_account(database, "nina")
    assert account is not None
    stale = users.verify_token(
        database, mail_settings.model_copy(update={"email_verify_link_hours": -1}), account
    )
    assert client.get(f"/verify/{stale}").status_code == 400
    assert client.get(f"/verify/{stale[:-1]}0").status_code == 400
    for _ in range(3):  # PAPERFEED_RATE_LIMIT_RESET: 3/hour
        r = post(client, "/account/verify", "/account/digest")
        assert r.status_code == 303 and r.headers["location"] == "/account/digest?sent=1"
    assert len(envelopes.to("nina@example.org")) == 4  # sign-up and three more
    assert "A new verification link" in client.get("/account/digest?sent=1").text
    r = post(client, "/account/verify", "/account/digest")
    assert r.headers["location"] == "/account/digest?sent=0"
    assert len(envelopes.to("nina@example.org")) == 4
    assert "Several links were mailed" in client.get("/account/digest?sent=0").text
    assert not users.email_verified(database, account)


def test_cli_accounts_are_verified(mail_settings: Settings, database: Database) -> None:
    result = CliRunner().invoke(cli, ["users", "create", "Ops@Example.org", "--admin"])
    assert result.exit_code == 0, result.output
    account = users.get_account_by_email(database, "ops@example.org")
    assert account is not None and users.email_verified(database, account)


def test_migration_verifies_existing_admins_only(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade(db, "0005")
        with db.engine.begin() as conn:
            for name, admin in (("root1", True), ("web1", False)):
                conn.execute(
                    text(
                        "INSERT INTO users (username, email, password_hash, is_admin, "
                        "is_banned, created_at) VALUES (:n, :e, 'x', :a, false, "
                        "'2026-11-01 00:00:00')"
                    ),
                    {"n": name, "e": f"{name}@example.org", "a": admin},
                )
        upgrade(db)
        engine = create_engine(database_url)
        with engine.connect() as conn:
            rows: dict[Any, Any] = dict(
                conn.execute(text("SELECT username, email_verified_at FROM users")).all()
            )
        engine.dispose()
        assert rows["root1"] is not None and rows["web1"] is None
    finally:
        db.dispose()


# --- the same answer, whatever is known about the address ----------------------------------


def test_signup_with_a_registered_address_answers_like_a_fresh_one(
    client: TestClient, envelopes: Envelopes
) -> None:
    signup(client, "olga", "olga@example.org")
    envelopes.got.clear()
    taken = signup(client, "olga2", "Olga@Example.org")
    fresh = signup(client, "pia", "pia@example.org")
    assert taken.status_code == fresh.status_code == 200
    assert body(taken) == body(fresh)
    assert "set-cookie" not in taken.headers or "pf_session" not in taken.headers["set-cookie"]
    warned = envelopes.to("olga@example.org")
    assert len(warned) == 1 and b"already has one" in warned[0].replace(b"=\r\n", b"")
    assert len(envelopes.to("pia@example.org")) == 1
    # Its owner hears of it a few times an hour at most (PAPERFEED_RATE_LIMIT_RESET).
    for i in range(4):
        assert signup(client, f"olga{i + 3}", "olga@example.org").status_code == 200
    assert len(envelopes.to("olga@example.org")) == 3
    # A taken username may still say so: usernames are public.
    assert "already taken" in signup(client, "olga", "new@example.org").text


def test_reset_answers_the_same_for_known_and_unknown(
    client: TestClient, envelopes: Envelopes
) -> None:
    signup(client, "quin", "quin@example.org")
    envelopes.got.clear()
    known = post(client, "/reset", "/reset", email="Quin@example.org")
    unknown = post(client, "/reset", "/reset", email="nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert body(known) == body(unknown)
    assert len(envelopes.to("quin@example.org")) == 1 and envelopes.to("nobody@example.org") == []
    bad = post(client, "/reset", "/reset", email="x1,quin@example.org")
    assert bad.status_code == 400 and len(envelopes.got) == 1


def test_subscribe_answers_the_same_for_new_pending_and_confirmed(
    client: TestClient, database: Database, mail_settings: Settings, envelopes: Envelopes
) -> None:
    subs.add(database, mail_settings, "conf@example.org", confirmed=True)
    answers = [
        post(client, "/subscribe", "/subscribe", email=address)
        for address in ("new@example.org", "new@example.org", "conf@example.org")
    ]
    assert {a.status_code for a in answers} == {200}
    assert body(answers[0]) == body(answers[1]) == body(answers[2])
    assert len(envelopes.to("new@example.org")) == 2  # pending: the link again
    assert envelopes.to("conf@example.org") == []  # confirmed: nothing to send
