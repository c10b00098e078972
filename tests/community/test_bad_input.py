"""Odd values in community requests: refused with a 4xx that says why, never a 500, and never
at another request's expense (a vote with a NUL in its id used to fail a PostgreSQL batch,
and with it other readers' votes)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import NotFound
from paperfeed.community.votes import VoteWriter, set_votes
from paperfeed.store.db import Database
from tests.community.conftest import csrf_of, page_csrf
from tests.community.test_security import make_token
from tests.community.test_vote_batches import live_count

NUL_ID = "2503.00001\x00"


def test_a_batch_with_an_impossible_id_applies_the_others(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    ann, ben = make_user("ann").id, make_user("ben").id
    base = live_count(site_db, "2503.00001")
    results = set_votes(
        site_db, [(ann, NUL_ID, True), (ben, "2503.00001", True), (ann, "٢٥٠٣.٠٠٠٠١", True)]
    )
    assert isinstance(results[0], NotFound) and isinstance(results[2], NotFound)
    assert results[1] == (base + 1, True)
    assert live_count(site_db, "2503.00001") == base + 1


def test_a_vote_with_a_nul_is_refused_before_it_is_queued(
    site_db: Database, make_user: Callable[..., Any]
) -> None:
    ann, ben = make_user("ann").id, make_user("ben").id
    writer = VoteWriter(site_db)

    async def both() -> Sequence[Any]:
        return await asyncio.gather(
            writer.set_vote(ann, NUL_ID, True),
            writer.set_vote(ben, "2503.00001", True),
            return_exceptions=True,
        )

    async def run() -> Sequence[Any]:
        try:
            return await both()
        finally:
            await writer.aclose()

    bad, good = asyncio.run(run())
    assert isinstance(bad, NotFound)
    assert good == (live_count(site_db, "2503.00001"), True)


def test_api_votes_with_odd_ids_are_404s(user_client: Any) -> None:
    browser = user_client("alice")
    token = make_token(browser, "write")
    script = TestClient(browser.app)
    for path in ("2503.00001%00", "%D9%A2503.00001", "2503.00001%ED%A0%80"):
        r = script.post(f"/api/papers/{path}/upvote", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (400, 404) and r.json()["error"], r.text
    r = script.post("/api/papers/2503.00001/upvote", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "bob\x00", "control character (U+0000)"),
        ("email", "bob@example.org\x00", "control character (U+0000)"),
        ("password", "pass\x1bword1234", "control character (U+001B)"),
    ],
)
def test_signup_with_control_characters_is_a_400_page(
    app_client: TestClient, field: str, value: str, message: str
) -> None:
    form = {"username": "bob", "email": "bob@example.org", "password": "long enough password"}
    form[field] = value
    r = app_client.post(
        "/signup", data={**form, "csrf_token": csrf_of(app_client.get("/signup").text)}
    )
    assert r.status_code == 400
    assert message in r.text and repr(field) in html.unescape(r.text)


def test_login_with_a_nul_is_a_400_page(app_client: TestClient) -> None:
    csrf = csrf_of(app_client.get("/login").text)
    r = app_client.post("/login", data={"login": "a\x00", "password": "x", "csrf_token": csrf})
    assert r.status_code == 400 and "control character" in r.text


def test_form_ids_take_ascii_digits_only(user_client: Any) -> None:
    alice = user_client("alice")
    csrf = page_csrf(alice)
    for parent in ("²", "٣", str(10**30)):
        r = alice.post(
            "/papers/2503.00001/comments",
            data={"body": "hello", "parent_id": parent, "csrf_token": csrf},
        )
        assert r.status_code == 400 and "parent_id must be a whole number" in r.text
    for collection in ("²", str(10**30)):
        r = alice.post(
            "/collections/add",
            data={"collection_id": collection, "arxiv_id": "2503.00001", "csrf_token": csrf},
        )
        assert r.status_code == 400 and "collection_id must be a whole number" in r.text


def test_json_text_with_a_lone_surrogate_or_nul_is_a_400(user_client: Any) -> None:
    alice = user_client("alice")
    token = make_token(alice, "write")
    api = TestClient(alice.app, headers={"Authorization": f"Bearer {token}"})
    for body in (b'{"body": "x\\ud800"}', b'{"body": "a\\u0000b"}'):
        r = api.post(
            "/api/papers/2503.00001/comments",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400 and "'body'" in r.json()["error"], r.text
    r = api.post("/api/collections", json={"name": "ok\x00"})
    assert r.status_code == 400 and "'name'" in r.json()["error"]
    assert api.get("/api/papers/2503.00001/comments").json() == []


@pytest.mark.parametrize("token", ["%C2%B2.1.abc", "1.%D9%A3.abc", "1." + "9" * 30 + ".abc"])
def test_reset_links_with_odd_numbers_are_refused(app_client: TestClient, token: str) -> None:
    r = app_client.get(f"/reset/{token}")
    assert r.status_code < 500
    assert r.status_code == app_client.get("/reset/1.2.abc").status_code


@pytest.mark.parametrize("path", ["/unsubscribe/%C2%B2.abc", "/subscriptions/%C2%B2.abc"])
def test_digest_links_with_odd_numbers_are_refused(app_client: TestClient, path: str) -> None:
    r = app_client.get(path)
    assert r.status_code < 500
    assert r.status_code == app_client.get(path.replace("%C2%B2", "1")).status_code


def test_multipart_forms_are_checked_too(user_client: Any) -> None:
    alice = user_client("alice")
    r = alice.post(
        "/papers/2503.00001/comments",
        files={"body": (None, "a\x00b")},
        headers={"X-CSRF-Token": page_csrf(alice)},
    )
    assert r.status_code == 400 and "control character (U+0000)" in r.text


def test_a_non_ascii_csrf_token_is_a_403(user_client: Any) -> None:
    alice = user_client("alice")
    # compare_digest refuses str with non-ASCII characters: it raised (500) before.
    r = alice.post("/account/tokens", data={"name": "x", "csrf_token": "é"})
    assert r.status_code == 403


@pytest.mark.parametrize("run", ["²", "٣", str(10**30)])
def test_cli_digest_status_refuses_odd_run_ids(site_db: Database, run: str) -> None:
    from click.testing import CliRunner

    from paperfeed.cli import cli

    r = CliRunner().invoke(cli, ["digest", "status", run])
    assert r.exit_code == 2 and "RUN is a run id" in r.output, r.output


@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_json_is_a_400(user_client: Any, depth: int) -> None:
    alice = user_client("alice")
    api = TestClient(alice.app, headers={"Authorization": f"Bearer {make_token(alice)}"})
    body = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    r = api.post("/api/collections", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]
