"""The reader's signals page (/for-you/signals) through the real forms, on SQLite and on
PostgreSQL when PAPERFEED_TEST_DATABASE_URL names one: each control changes what the page
lists (``signals_of``) and what the feed learns from (``gather``); pause, follows, the
digest switch, "delete all" with its confirmation; CSRF; one reader never sees another's."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import users
from paperfeed.config import Settings
from paperfeed.recommend import signals, train
from paperfeed.recommend.gather import Signals, gather
from paperfeed.store.db import Database
from paperfeed.store.models import Paper, utcnow
from paperfeed.web.app import create_app
from paperfeed.web.pages.for_you_signals import SHOWN
from tests.community.conftest import (  # noqa: F401 (fixtures)
    community_settings,
    csrf_of,
    login,
    make_user,
    site_db,
)
from tests.factories import add_paper
from tests.recommend import rank_corpus as rc

PAGE = "/for-you/signals"


@dataclass
class Reader:
    client: TestClient
    account: users.Account
    csrf: str
    db: Database

    def post(self, path: str, **data: str) -> object:
        return self.client.post(
            f"{PAGE}/{path}", data={**data, "csrf_token": self.csrf}, follow_redirects=False
        )


@pytest.fixture
def readers(
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
    make_user: Callable[..., users.Account],  # noqa: F811
) -> Iterator[tuple[Reader, Reader]]:
    app = create_app(community_settings, site_db)
    alice, bob = make_user("alice"), make_user("bob")
    with TestClient(app) as a, TestClient(app) as b:
        login(a, "alice")
        login(b, "bob")
        yield (
            Reader(a, alice, csrf_of(a.get(PAGE).text), site_db),
            Reader(b, bob, csrf_of(b.get(PAGE).text), site_db),
        )


def paper_id(db: Database, arxiv_id: str) -> int:
    with db.read() as s:
        found = s.query(Paper.id).filter(Paper.arxiv_id == arxiv_id).scalar()
    assert found is not None
    return int(found)


def learned(db: Database, user_id: int) -> Signals:
    with db.read() as s:
        return gather(s, user_id, skip_before=utcnow())


def positives(db: Database, user_id: int) -> set[int]:
    return {p.paper_id for p in learned(db, user_id).positives}


def listed(db: Database, user_id: int, kind: str) -> list[str]:
    return [p.arxiv_id for p in getattr(signals.signals_of(db, user_id), kind)]


def assert_done(response: object, code: str) -> None:
    assert getattr(response, "status_code", None) == 303
    assert getattr(response, "headers", {})["location"] == f"{PAGE}?done={code}"


def test_the_page_lists_each_kind_with_its_controls_and_only_the_readers_own(
    readers: tuple[Reader, Reader],
) -> None:
    alice, bob = readers
    db, me = alice.db, alice.account.id
    rc.upvote(db, me, paper_id(db, "2503.00001"))
    rc.save(db, me, paper_id(db, "2503.00004"))
    signals.add_seeds(db, me, ["2503.00002"])
    signals.dismiss(db, me, "2503.00003")
    signals.ignore(db, me, "2503.00006", True)
    page = alice.client.get(PAGE)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    for arxiv_id in ("2503.00001", "2503.00002", "2503.00003", "2503.00004", "2503.00006"):
        assert f'href="/papers/{arxiv_id}"' in text
    assert "Gradient Gardens for Sparse Mixtures" in text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\d">', text)
    for action in ("remove-seed", "undismiss", "ignore", "unignore"):
        assert f'name="action" value="{action}"' in text
    other = bob.client.get(PAGE).text
    for arxiv_id in ("2503.00001", "2503.00002", "2503.00003", "2503.00004", "2503.00006"):
        assert f'href="/papers/{arxiv_id}"' not in other


def test_each_paper_control_changes_the_list_and_what_is_learned(
    readers: tuple[Reader, Reader],
) -> None:
    alice, bob = readers
    db, me = alice.db, alice.account.id
    upvoted, seeded = paper_id(db, "2503.00001"), paper_id(db, "2503.00002")
    rc.upvote(db, me, upvoted)
    signals.add_seeds(db, me, ["2503.00002"])
    signals.dismiss(db, me, "2503.00003")
    assert positives(db, me) == {upvoted, seeded}
    assert_done(alice.post("paper", arxiv_id="2503.00001", action="ignore"), "ignore")
    assert listed(db, me, "ignored") == ["2503.00001"]
    assert positives(db, me) == {seeded}
    assert "Not learned from any more." in alice.client.get(f"{PAGE}?done=ignore").text
    assert "Learn from this again" in alice.client.get(PAGE).text
    assert_done(alice.post("paper", arxiv_id="2503.00001", action="unignore"), "unignore")
    assert listed(db, me, "ignored") == [] and upvoted in positives(db, me)
    assert_done(alice.post("paper", arxiv_id="2503.00002", action="remove-seed"), "remove-seed")
    assert listed(db, me, "seeded") == [] and positives(db, me) == {upvoted}
    dismissed = paper_id(db, "2503.00003")
    assert dismissed in learned(db, me).negatives
    assert_done(alice.post("paper", arxiv_id="2503.00003", action="undismiss"), "undismiss")
    assert listed(db, me, "dismissed") == []
    assert dismissed not in learned(db, me).negatives
    # bob's forms act on bob's signals only
    signals.dismiss(db, me, "2503.00003")
    bob.post("paper", arxiv_id="2503.00003", action="undismiss")
    assert listed(db, me, "dismissed") == ["2503.00003"]


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"arxiv_id": "2599.99999", "action": "ignore"}, 404, "on this site"),
        ({"arxiv_id": "not an id", "action": "undismiss"}, 404, "on this site"),
        ({"arxiv_id": "2503.00001", "action": "explode"}, 400, "Choose what to do"),
    ],
)
def test_a_refused_paper_control_says_why_inline(
    readers: tuple[Reader, Reader],
    data: dict[str, str],
    status: int,
    message: str,
) -> None:
    db = readers[0].db
    alice, _ = readers
    r = alice.post("paper", **data)
    assert getattr(r, "status_code", None) == status
    assert message in getattr(r, "text", "") and 'class="form-error"' in getattr(r, "text", "")
    assert listed(db, alice.account.id, "ignored") == []


def test_pause_and_resume(readers: tuple[Reader, Reader]) -> None:
    alice, bob = readers
    db, me = alice.db, alice.account.id
    assert_done(alice.post("pause", paused="1"), "paused")
    assert signals.signals_of(db, me).prefs.paused and learned(db, me).prefs.paused
    assert not signals.signals_of(db, bob.account.id).prefs.paused
    page = alice.client.get(f"{PAGE}?done=paused").text
    assert "Learning paused" in page and "Resume learning" in page
    assert_done(alice.post("pause", paused="0"), "resumed")
    assert not learned(db, me).prefs.paused
    assert "Pause learning" in alice.client.get(PAGE).text


def test_a_paused_reader_is_not_retrained_until_resumed(
    readers: tuple[Reader, Reader],
    community_settings: Settings,  # noqa: F811
) -> None:
    alice, _ = readers
    db, me = alice.db, alice.account.id
    signals.add_seeds(db, me, ["2503.00002"])
    first = train.train(db, community_settings, me)
    assert_done(alice.post("pause", paused="1"), "paused")
    signals.add_seeds(db, me, ["2503.00001"])  # a change the model has not learned
    assert train.refresh_stale(db, community_settings, 100) == 0
    with db.read() as s:
        kept = train.load_model(s, me)
        assert kept is not None and kept.fingerprint == first.fingerprint
    assert_done(alice.post("pause", paused="0"), "resumed")
    assert train.refresh_stale(db, community_settings, 100) == 1
    with db.read() as s:
        fresh = train.load_model(s, me)
        assert fresh is not None and fresh.positives == 2


def test_follows_are_saved_and_a_bad_one_keeps_the_input(readers: tuple[Reader, Reader]) -> None:
    alice, _ = readers
    db, me = alice.db, alice.account.id
    r = alice.post("follows", categories="CS.CL, hep-th", authors="Ann One\nBen  Two\n\n")
    assert_done(r, "follows")
    prefs = learned(db, me).prefs
    assert prefs.categories == ("cs.CL", "hep-th") and prefs.authors == ("Ann One", "Ben Two")
    page = alice.client.get(PAGE).text
    assert 'value="cs.CL, hep-th"' in page and "Ann One\nBen Two</textarea>" in page
    bad = alice.post("follows", categories="cs.CL foo_bar", authors="Keep Me")
    assert getattr(bad, "status_code", None) == 400
    text = getattr(bad, "text", "")
    assert "is not an arXiv category" in text
    assert 'value="cs.CL foo_bar"' in text and ">Keep Me</textarea>" in text
    assert learned(db, me).prefs.categories == ("cs.CL", "hep-th")  # unchanged
    assert_done(alice.post("follows", categories="", authors=""), "follows")
    assert not learned(db, me).prefs.follows


def test_the_digest_switch(readers: tuple[Reader, Reader]) -> None:
    alice, _ = readers
    db, me = alice.db, alice.account.id
    assert signals.signals_of(db, me).prefs.digest_for_you  # on by default
    assert_done(alice.post("digest", on="0"), "digest-off")
    assert not signals.signals_of(db, me).prefs.digest_for_you
    assert "section on" in alice.client.get(PAGE).text
    assert_done(alice.post("digest", on="1"), "digest-on")
    assert signals.signals_of(db, me).prefs.digest_for_you


def test_delete_all_asks_first_then_forgets(readers: tuple[Reader, Reader]) -> None:
    alice, bob = readers
    db, me = alice.db, alice.account.id
    upvoted = paper_id(db, "2503.00001")
    rc.upvote(db, me, upvoted)
    signals.add_seeds(db, me, ["2503.00002"])
    signals.add_seeds(db, bob.account.id, ["2503.00002"])
    asked = alice.post("forget")
    assert getattr(asked, "status_code", None) == 200
    assert "Yes, delete all my signals" in getattr(asked, "text", "")
    assert listed(db, me, "seeded") == ["2503.00002"]  # nothing deleted yet
    assert_done(alice.post("forget", confirm="yes"), "forgot")
    view = signals.signals_of(db, me)
    assert view.seeded == [] and [p.counted for p in view.upvoted] == [False]
    assert positives(db, me) == set()
    assert "not learned from" in alice.client.get(PAGE).text
    assert listed(db, bob.account.id, "seeded") == ["2503.00002"]


def test_forms_need_the_csrf_token_and_a_session(
    readers: tuple[Reader, Reader],
    community_settings: Settings,  # noqa: F811
) -> None:
    db = readers[0].db
    alice, _ = readers
    r = alice.client.post(f"{PAGE}/pause", data={"paused": "1"}, follow_redirects=False)
    assert r.status_code == 403
    assert not signals.signals_of(db, alice.account.id).prefs.paused
    with TestClient(create_app(community_settings, db)) as anonymous:
        r = anonymous.get(PAGE, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_long_lists_are_capped_with_a_show_all_link(readers: tuple[Reader, Reader]) -> None:
    db = readers[0].db
    alice, _ = readers
    ids = [f"2504.{n:05d}" for n in range(1, SHOWN + 4)]
    for arxiv_id in ids:
        add_paper(db, arxiv_id)
    signals.add_seeds(db, alice.account.id, ids)
    page = alice.client.get(PAGE).text
    assert page.count('value="remove-seed"') == SHOWN
    assert f"{SHOWN} of {SHOWN + 3} shown" in page and "?all=seeded" in page
    everything = alice.client.get(f"{PAGE}?all=seeded").text
    assert everything.count('value="remove-seed"') == SHOWN + 3
    odd = alice.client.get(f"{PAGE}?all=nope&done=%3Cb%3E")
    assert (
        odd.status_code == 200 and "&lt;b&gt;" not in odd.text and 'class="notice"' not in odd.text
    )
