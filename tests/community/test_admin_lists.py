"""The admin's lists and the outbox page, on a site with no SMTP relay: a subscription's
confirmation lands in the outbox, the admin reads it (links clickable, HTML never rendered),
opens its link and confirms; the pages that promise mail say where it really goes."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

from fastapi.testclient import TestClient

from paperfeed.community import claims, comments, users
from paperfeed.config import Settings
from paperfeed.digest import subscriptions as subs
from paperfeed.mail.outbox import Outbox
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.community.conftest import csrf_of

NOTE = "This site has no mail relay yet"
HOSTILE_HTML = (
    "From: x@example.org\r\nTo: ann@example.org\r\nSubject: HTML inside\r\n"
    'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain <b>text</b>\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<script>alert(1)</script><a href='javascript:x'>x</a>\r\n--b--\r\n"
)


def _subscribe(client: TestClient, email: str) -> str:
    form = client.get("/subscribe")
    r = client.post(
        "/subscribe",
        data={"email": email, "period": "daily", "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == 200
    return r.text


def _wait_for_mail(client: TestClient) -> None:
    queue = getattr(client.app.state, "mail_queue", None)  # type: ignore[attr-defined]
    assert queue is not None and queue.wait_idle(10)


def test_subscribe_confirm_through_the_outbox(
    community_settings: Settings,
    site_db: Database,
    user_client: Callable[..., TestClient],
    app_client: TestClient,
) -> None:
    assert community_settings.smtp_host is None
    page = app_client.get("/subscribe").text
    assert NOTE in page and 'href="/admin/outbox"' in page
    done = _subscribe(app_client, "reader@example.org")
    assert "on its way" in done and NOTE in done
    _wait_for_mail(app_client)

    admin = user_client("boss", admin=True)
    listing = admin.get("/admin/outbox")
    assert listing.status_code == 200
    assert "1 message," in listing.text and "reader@example.org" in listing.text
    (href,) = re.findall(r'href="(/admin/outbox/[^"]+)"', listing.text)
    message = admin.get(href)
    assert message.status_code == 200
    links = re.findall(r'<a href="([^"]+/subscribe/confirm/[^"]+)"', message.text)
    assert len(links) == 1 and links[0].startswith(community_settings.base_url)

    # The link works as the reader's would: a button, whose POST confirms.
    path = unescape(links[0])[len(community_settings.base_url) :]
    confirm = app_client.get(path)
    app_client.post(path, data={"csrf_token": csrf_of(confirm.text)})
    found = subs.get_by_email(site_db, "reader@example.org")
    assert found is not None and found.status == "confirmed"


def test_outbox_message_html_is_shown_as_text(
    community_settings: Settings, user_client: Callable[..., TestClient]
) -> None:
    name = Outbox.of(community_settings).write(HOSTILE_HTML.encode())
    admin = user_client("boss", admin=True)
    page = admin.get(f"/admin/outbox/{name}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "plain &lt;b&gt;text&lt;/b&gt;" in page
    assert 'href="javascript' not in page
    assert admin.get("/admin/outbox/00000000000000000001-0123456789ab.eml").status_code == 404


def test_reset_and_signup_say_there_is_no_relay(app_client: TestClient) -> None:
    page = app_client.get("/reset").text
    assert NOTE in page
    r = app_client.post("/reset", data={"email": "nobody@example.org", "csrf_token": csrf_of(page)})
    assert "on its way" in r.text and NOTE in r.text
    assert NOTE not in app_client.get("/login").text  # promises nothing


def test_with_a_relay_no_note(community_settings: Settings, site_db: Database) -> None:
    relay = community_settings.model_copy(update={"smtp_host": "127.0.0.1"})
    with TestClient(create_app(relay, site_db)) as client:
        assert NOTE not in client.get("/subscribe").text
        assert NOTE not in client.get("/reset").text


def test_admin_lists_show_rows_and_counts(
    community_settings: Settings,
    site_db: Database,
    make_user: Callable[..., users.Account],
    user_client: Callable[..., TestClient],
) -> None:
    ann = make_user("ann", verified=True)
    comments.add_comment(site_db, ann, "2503.00001", "A *first* look")
    claims.claim(site_db, ann, "2503.00002", "Ann One")
    subs.add(site_db, community_settings, "list@example.org", period="weekly", confirmed=True)
    admin = user_client("boss", admin=True)

    overview = admin.get("/admin").text
    assert 'href="/admin/users"' in overview and "1 pending" in overview
    page = admin.get("/admin/users").text
    assert "2 accounts" in page and "ann@example.org" in page and ">admin<" in page
    page = admin.get("/admin/comments").text
    assert (
        "1 comment" in page and "A *first* look" in page and "/papers/2503.00001#comment-" in page
    )
    page = admin.get("/admin/claims").text
    assert "1 claim, 1 pending" in page and "Ann One" in page
    page = admin.get("/admin/subscribers").text
    assert "1 address: 1 confirmed" in page and "list@example.org" in page
    page = admin.get("/admin/digests").text
    assert "0 runs" in page and "None." in page


def test_admin_lists_paginate(
    community_settings: Settings, site_db: Database, user_client: Callable[..., TestClient]
) -> None:
    for i in range(51):
        subs.add(site_db, community_settings, f"s{i:02d}@example.org", confirmed=True)
    admin = user_client("boss", admin=True)
    first = admin.get("/admin/subscribers").text
    assert "s50@example.org" in first and "s00@example.org" not in first  # newest first
    assert "page 1 of 2" in first and 'href="/admin/subscribers?page=2"' in first
    second = admin.get("/admin/subscribers?page=2").text
    assert "s00@example.org" in second and "s50@example.org" not in second
    for bad in ("0", "x", "²", "100001"):
        r = admin.get(f"/admin/subscribers?page={bad}")
        assert r.status_code == 400 and "whole number" in r.text


def test_admin_lists_are_refused_to_others(
    app_client: TestClient, user_client: Callable[..., TestClient]
) -> None:
    assert app_client.get("/admin/outbox", follow_redirects=False).status_code in (303, 401)
    assert user_client("ann").get("/admin/outbox").status_code == 403
