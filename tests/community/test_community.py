"""Votes move the feed order, comments and counters, submissions, claims, collections,
the admin CLI and the mailer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from paperfeed.cli import cli
from paperfeed.community import CommunityError, submissions
from paperfeed.community.users import Account
from paperfeed.config import Settings
from paperfeed.sources.records import PaperRecord
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow
from tests.community.conftest import page_csrf


def day_order(client: TestClient) -> list[str]:
    return [i["paper"]["id"] for i in client.get("/api/daily_papers?date=2025-03-07").json()]


def test_upvote_changes_count_and_order(user_client: Any) -> None:
    voters = [user_client(n) for n in ("ann", "ben", "cat")]
    # Friday: 00002 (25), 00003 (10, 8:00), 00001 (10, 9:00)
    assert day_order(voters[0]) == ["2503.00002", "2503.00003", "2503.00001"]
    r = voters[0].post(
        "/papers/2503.00001/upvote",
        data={"action": "add", "csrf_token": page_csrf(voters[0]), "next": "/"},
        follow_redirects=False,
    )
    # Back to the voted card (#paper-ID), not the top of the list.
    assert r.status_code == 303 and r.headers["location"] == "/#paper-2503.00001"
    assert 'id="paper-2503.00001"' in voters[0].get("/papers/date/2025-03-07").text
    assert day_order(voters[0]) == ["2503.00002", "2503.00001", "2503.00003"]
    # Once per user: voting again changes nothing; un-voting goes back.
    token = page_csrf(voters[0])
    voters[0].post("/papers/2503.00001/upvote", data={"action": "add", "csrf_token": token})
    assert voters[0].get("/api/papers/2503.00001").json()["upvotes"] == 11
    voters[0].post("/papers/2503.00001/upvote", data={"action": "remove", "csrf_token": token})
    assert voters[0].get("/api/papers/2503.00001").json()["upvotes"] == 10

    def trending() -> list[str]:
        return [i["paper"]["id"] for i in voters[0].get("/api/daily_papers?sort=trending").json()]

    before = trending().index("2503.00003")
    for v in voters:
        v.post("/papers/2503.00003/upvote", data={"action": "add", "csrf_token": page_csrf(v)})
    page = voters[0].get("/papers/date/2025-03-07").text
    assert 'aria-pressed="true"' in page
    assert trending().index("2503.00003") < before


def test_comments_replies_counters_and_sanitising(user_client: Any) -> None:
    a, b = user_client("ann"), user_client("ben")
    before = a.get("/api/papers/2503.00002").json()["numComments"]
    r = a.post(
        "/papers/2503.00002/comments",
        data={
            "csrf_token": page_csrf(a),
            "body": "**bold** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://example.org)",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    top = a.get("/api/papers/2503.00002/comments").json()[0]
    assert "<strong>bold</strong>" in top["html"]
    assert "<script" not in top["html"] and 'href="javascript' not in top["html"]
    assert 'rel="nofollow ugc noopener"' in top["html"]
    b.post(
        "/papers/2503.00002/comments",
        data={"csrf_token": page_csrf(b), "body": "a reply", "parent_id": str(top["id"])},
    )
    thread = a.get("/api/papers/2503.00002/comments").json()
    assert [r["body"] for r in thread[0]["replies"]] == ["a reply"]
    assert a.get("/api/papers/2503.00002").json()["numComments"] == before + 2
    items = a.get("/api/daily_papers?date=2025-03-07").json()
    assert next(i for i in items if i["paper"]["id"] == "2503.00002")["numComments"] == before + 2
    # Edit own; delete own (the reply goes with it).
    r = a.post(f"/comments/{top['id']}/edit", data={"csrf_token": page_csrf(a), "body": "edited"})
    assert a.get("/api/papers/2503.00002/comments").json()[0]["body"] == "edited"
    a.post(f"/comments/{top['id']}/delete", data={"csrf_token": page_csrf(a)})
    assert a.get("/api/papers/2503.00002/comments").json() == []
    assert a.get("/api/papers/2503.00002").json()["numComments"] == before


def test_admin_hides_comments(user_client: Any) -> None:
    a, admin = user_client("ann"), user_client("root1", admin=True)
    a.post("/papers/2503.00002/comments", data={"csrf_token": page_csrf(a), "body": "spam"})
    cid = a.get("/api/papers/2503.00002/comments").json()[0]["id"]
    assert a.post(f"/comments/{cid}/hide", data={"csrf_token": page_csrf(a)}).status_code == 403
    admin.post(f"/comments/{cid}/hide", data={"csrf_token": page_csrf(admin), "hidden": "1"})
    assert a.get("/api/papers/2503.00002/comments").json() == []
    assert "spam" not in a.get("/papers/2503.00002").text


def test_comment_rate_limit(
    user_client: Any, monkeypatch: pytest.MonkeyPatch, community_settings: Settings
) -> None:
    a = user_client("ann")
    a.app.state.settings = community_settings.model_copy(update={"rate_limit_comments": "2/minute"})
    token = page_csrf(a)
    codes = [
        a.post(
            "/papers/2503.00002/comments", data={"csrf_token": token, "body": f"c{n}"}
        ).status_code
        for n in range(3)
    ]
    assert codes[-1] == 429


def _record(arxiv_id: str, published: dt.datetime) -> PaperRecord:
    return PaperRecord(
        arxiv_id=arxiv_id, title=f"Invented submitted paper {arxiv_id}", abstract="Made up.",
        authors=["Ann Author", "Ben Writer"], published_at=published, version=1,
    )  # fmt: skip


def test_submissions(community_settings: Settings, site_db: Database, make_user: Any) -> None:
    account: Account = make_user("sam")
    now = utcnow()
    fetched: list[Sequence[str]] = []

    def fake_fetch(ids: Sequence[str], settings: Settings) -> list[PaperRecord]:
        fetched.append(ids)
        old = ids[0] == "2401.00009"
        return [_record(ids[0], now - dt.timedelta(days=40 if old else 1))]

    def submit(text: str) -> submissions.Submitted:
        return submissions.submit(site_db, community_settings, account, text, fetch=fake_fetch)

    done = submit("https://arxiv.org/abs/2511.00042v2")
    assert done.arxiv_id == "2511.00042" and fetched == [["2511.00042"]]
    with pytest.raises(CommunityError, match="already on today's list"):
        submit("2511.00042")
    with pytest.raises(CommunityError, match="not an arXiv id"):
        submit("https://evil.example/abs/2511.00042")
    with pytest.raises(CommunityError, match="within 14 days"):
        submit("2401.00009")
    limited = community_settings.model_copy(update={"submission_daily_limit": 1})
    with pytest.raises(CommunityError, match="daily limit"):
        submissions.submit(site_db, limited, account, "2511.00043", fetch=fake_fetch)


def test_submitter_filter_and_card(
    community_settings: Settings, site_db: Database, user_client: Any
) -> None:
    client = user_client("sam")
    from paperfeed.community import users

    account = users.get_account(site_db, "sam")
    assert account is not None
    submissions.submit(
        site_db, community_settings, account, "2511.00042",
        fetch=lambda ids, s: [_record(ids[0], utcnow())],
    )  # fmt: skip
    today = utcnow().date().isoformat()
    items = client.get(f"/api/daily_papers?date={today}&submitter=sam").json()
    assert [i["paper"]["id"] for i in items] == ["2511.00042"]
    assert items[0]["submittedBy"]["user"] == "sam"
    assert "submitted by <b>sam</b>" in client.get(f"/papers/date/{today}").text
    assert "Invented submitted paper" in client.get("/u/sam").text


def test_claims_and_profile(user_client: Any) -> None:
    a, admin = user_client("ann"), user_client("root1", admin=True)
    r = a.post(
        "/papers/2503.00002/claim", data={"csrf_token": page_csrf(a), "author_name": "Ann One"}
    )
    assert r.status_code == 200
    bad = a.post(
        "/papers/2503.00001/claim", data={"csrf_token": page_csrf(a), "author_name": "Not There"}
    )
    assert bad.status_code == 400
    assert "Lanterns" not in a.get("/u/ann").text.split("Submitted papers")[0]
    page = admin.get("/admin").text
    claim_id = page.split('action="/admin/claims/')[1].split('"')[0]
    admin.post(
        f"/admin/claims/{claim_id}", data={"csrf_token": page_csrf(admin), "decision": "approve"}
    )
    assert "Lanterns" in a.get("/u/ann").text.split("Submitted papers")[0]


def test_collections_pages_api_and_feeds(user_client: Any) -> None:
    a = user_client("ann")
    r = a.post(
        "/collections",
        data={"csrf_token": page_csrf(a), "name": "Reading list", "public": "1"},
        follow_redirects=False,
    )
    cid = r.headers["location"].rsplit("/", 1)[1]
    a.post(
        "/collections/add",
        data={"csrf_token": page_csrf(a), "collection_id": cid, "arxiv_id": "2503.00002"},
    )
    assert "Lanterns" in a.get(f"/collections/{cid}").text
    anon = TestClient(a.app)
    assert anon.get(f"/api/collections/{cid}").json()["numPapers"] == 1
    papers = anon.get(f"/api/collections/{cid}/papers").json()
    assert [p["paper"]["id"] for p in papers] == ["2503.00002"]
    atom = anon.get(f"/collections/{cid}.atom")
    assert atom.status_code == 200 and b"Lanterns" in atom.content
    assert anon.get(f"/collections/{cid}.xml").status_code == 200
    a.post(f"/collections/{cid}/edit", data={"csrf_token": page_csrf(a), "name": "Secret"})
    assert anon.get(f"/collections/{cid}").status_code == 404
    assert anon.get(f"/collections/{cid}.atom").status_code == 404
    assert anon.get("/api/users/ann/collections").json() == []


def test_admin_features_and_removes_entries(user_client: Any) -> None:
    admin = user_client("root1", admin=True)
    r = admin.post(
        "/admin/entries",
        data={"csrf_token": page_csrf(admin), "arxiv_id": "2503.00006", "day": "2025-03-07"},
    )
    assert r.status_code == 200
    assert "2503.00006" in day_order(admin)
    admin.post(
        "/admin/entries",
        data={
            "csrf_token": page_csrf(admin),
            "arxiv_id": "2503.00006",
            "day": "2025-03-07",
            "action": "remove",
        },
    )
    assert "2503.00006" not in day_order(admin)
    normal = user_client("ann")
    assert normal.get("/admin").status_code == 403


def test_users_cli_creates_the_first_admin(
    community_settings: Settings, database: Database
) -> None:
    r = CliRunner().invoke(cli, ["users", "create", "--admin", "boss@example.org"])
    assert r.exit_code == 0, r.output
    assert "created admin boss" in r.output and "password (shown once" in r.output
    r = CliRunner().invoke(cli, ["users", "list"])
    assert "boss\tboss@example.org\tadmin" in r.output
    r = CliRunner().invoke(cli, ["users", "ban", "boss"])
    assert "banned" in r.output


@pytest.mark.parametrize("given", [False, True])
def test_users_cli_reserved_name_points_to_username_option(
    community_settings: Settings, database: Database, given: bool
) -> None:
    """``admin@…`` makes the reserved name "admin": the refusal names the way out."""
    args = ["users", "create", "--admin", "admin@example.org"]
    r = CliRunner().invoke(cli, args + (["--username", "admin"] if given else []))
    assert r.exit_code == 1
    assert "reserved" in r.output and "--username" in r.output
    r = CliRunner().invoke(cli, [*args, "--username", "siteadmin"])
    assert r.exit_code == 0, r.output
    assert "created admin siteadmin <admin@example.org>" in r.output


def test_mailer_sends_reset_link_through_smtp(
    community_settings: Settings, site_db: Database, make_user: Any
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as MessageHandler

    received: list[Any] = []

    class Keep(MessageHandler):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailing = community_settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none"}
        )
        from paperfeed.web.app import create_app
        from tests.community.conftest import csrf_of

        make_user("lea")
        with TestClient(create_app(mailing, site_db)) as client:
            page = client.get("/reset")
            r = client.post(
                "/reset", data={"email": "lea@example.org", "csrf_token": csrf_of(page.text)}
            )
            same = client.post(
                "/reset", data={"email": "nobody@example.org", "csrf_token": csrf_of(page.text)}
            )
            assert r.status_code == same.status_code == 200 and r.text == same.text
            assert client.app.state.mail_queue.wait_idle(20)  # type: ignore[attr-defined]
            assert len(received) == 1
            body = received[0].get_payload(decode=True).decode()
            link = next(w for w in body.split() if "/reset/" in w)
            token = link.rsplit("/", 1)[1]
            assert client.get(f"/reset/{token}").status_code == 200
            assert received[0]["To"] == "lea@example.org"
    finally:
        controller.stop()
