"""The private feed (/feeds/for-you/{token}.atom|.xml), made and revoked on the signals page,
on SQLite and on PostgreSQL when PAPERFEED_TEST_DATABASE_URL names one: it answers for the
token, ranks afresh on each request (a dismissal shows at once), 404s after revoke and for a
wrong token with no hint, and shows nothing of another reader."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from paperfeed.community import users
from paperfeed.config import Settings
from paperfeed.recommend import signals
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow
from paperfeed.web import for_you_feed
from paperfeed.web.app import create_app
from tests.community.conftest import (  # noqa: F401 (fixtures)
    community_settings,
    csrf_of,
    login,
    make_user,
    site_db,
)
from tests.factories import add_paper
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import corpus, rank_settings
from tests.web import test_for_you_signals as signals_page

ATOM = "{http://www.w3.org/2005/Atom}"
FRESH = ["2512.00001", "2512.00002", "2512.00003"]
__all__ = ["corpus", "rank_settings"]  # fixtures
URL_RE = re.compile(r'<code id="feed-url-atom">[^<]*(/feeds/for-you/[A-Za-z0-9_-]{43})\.atom<')


class Reader(signals_page.Reader):
    def new_feed(self) -> str:
        """Create the feed URL on the signals page: its path without the format suffix."""
        r = self.client.post(
            "/for-you/signals/feed", data={"action": "create", "csrf_token": self.csrf}
        )
        assert r.status_code == 200 and "cannot be shown again" in r.text
        found = URL_RE.search(r.text)
        assert found, r.text
        return found.group(1)


@pytest.fixture
def readers(
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
    make_user: Callable[..., users.Account],  # noqa: F811
) -> Iterator[tuple[Reader, Reader, TestClient]]:
    """alice and bob, logged in, and an anonymous feed reader; three papers of this week."""
    now = utcnow()
    for n, arxiv_id in enumerate(FRESH):
        add_paper(
            site_db,
            arxiv_id,
            title=f"Fresh paper {n}",
            categories=["cs.CL"] if n == 2 else ["math.AG"],
            primary_category="cs.CL" if n == 2 else "math.AG",
            published_at=now - dt.timedelta(hours=5 + n),
        )
    app = create_app(community_settings, site_db)
    alice, bob = make_user("alice"), make_user("bob")
    with TestClient(app) as a, TestClient(app) as b, TestClient(app) as anonymous:
        login(a, "alice")
        login(b, "bob")
        yield (
            Reader(a, alice, csrf_of(a.get("/for-you/signals").text), site_db),
            Reader(b, bob, csrf_of(b.get("/for-you/signals").text), site_db),
            anonymous,
        )


def entries(client: TestClient | httpx.Client, path: str) -> list[tuple[str, str]]:
    """(arXiv id, summary) of each entry of the Atom feed at ``path`` (an app's
    ``TestClient``, or a client of a real server)."""
    r = client.get(f"{path}.atom")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["x-robots-tag"] == "noindex"
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    out = []
    for entry in root.iter(f"{ATOM}entry"):
        arxiv_id = (entry.findtext(f"{ATOM}id") or "").rsplit("/", 1)[-1]
        out.append((arxiv_id, entry.findtext(f"{ATOM}summary") or ""))
    return out


def test_the_feed_answers_for_its_token_and_changes_with_a_dismissal(
    readers: tuple[Reader, Reader, TestClient],
) -> None:
    alice, _, anonymous = readers
    db = alice.db
    path = alice.new_feed()
    shown = entries(anonymous, path)
    assert sorted(a for a, _ in shown) == FRESH  # the week's papers only, not the old ones
    assert all(summary.startswith("Trending this week. — ") for _, summary in shown)
    signals.dismiss(db, alice.account.id, "2512.00001")
    assert "2512.00001" not in [a for a, _ in entries(anonymous, path)]
    rss = anonymous.get(f"{path}.xml")
    assert rss.status_code == 200 and rss.headers["cache-control"] == "private, no-store"
    items = ET.fromstring(rss.content).findall("./channel/item")
    assert [i.findtext("guid", "").rsplit("/", 1)[-1] for i in items].count("2512.00001") == 0
    assert all((i.findtext("description") or "").startswith("Trending") for i in items)
    page = alice.client.get("/for-you/signals").text
    assert "You have a private feed URL" in page and path not in page  # shown once only


def test_follows_lead_the_summary_with_their_reason(
    readers: tuple[Reader, Reader, TestClient],
) -> None:
    alice, _, anonymous = readers
    db = alice.db
    signals.set_follows(db, alice.account.id, ["cs.CL"], [])
    first_id, first_summary = entries(anonymous, alice.new_feed())[0]
    assert first_id == "2512.00003"
    assert first_summary.startswith("In cs.CL, which you follow. — ")


def test_revoked_replaced_and_wrong_tokens_are_404_without_a_hint(
    readers: tuple[Reader, Reader, TestClient],
) -> None:
    alice, _, anonymous = readers
    old = alice.new_feed()
    new = alice.new_feed()  # a new one replaces the old
    assert anonymous.get(f"{old}.atom").status_code == 404
    assert len(entries(anonymous, new)) == 3
    r = alice.client.post(
        "/for-you/signals/feed",
        data={"action": "revoke", "csrf_token": alice.csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/for-you/signals?done=revoked"
    gone = [anonymous.get(f"{new}{fmt}") for fmt in (".atom", ".xml")]
    wrong = anonymous.get("/feeds/for-you/" + "A" * 43 + ".atom")
    malformed = anonymous.get("/feeds/for-you/x.xml")
    for answer in [*gone, wrong, malformed]:
        assert answer.status_code == 404
        assert "token" not in answer.text.lower() and "revoked" not in answer.text.lower()
    assert "Create a private feed URL" in alice.client.get("/for-you/signals").text


def test_a_feed_shows_nothing_of_another_reader(readers: tuple[Reader, Reader, TestClient]) -> None:
    alice, bob, anonymous = readers
    db = alice.db
    signals.set_follows(db, alice.account.id, ["cs.CL"], ["Somebody Else"])
    signals.dismiss(db, alice.account.id, "2512.00002")
    alices, bobs = alice.new_feed(), bob.new_feed()
    assert alices != bobs
    theirs = entries(anonymous, bobs)
    assert sorted(a for a, _ in theirs) == FRESH  # alice's dismissal is hers
    assert not any("follow" in s for _, s in theirs)
    body = anonymous.get(f"{bobs}.atom").text
    assert "alice" not in body and "Somebody Else" not in body
    assert "2512.00002" not in [a for a, _ in entries(anonymous, alices)]
    # bob's signals page names no feed of alice's, and hers stays live after bob revokes his
    bob.client.post("/for-you/signals/feed", data={"action": "revoke", "csrf_token": bob.csrf})
    assert anonymous.get(f"{bobs}.atom").status_code == 404
    assert anonymous.get(f"{alices}.atom").status_code == 200


def test_the_feed_is_never_kept_in_the_shared_cache(
    community_settings: Settings,  # noqa: F811
    site_db: Database,  # noqa: F811
    make_user: Callable[..., users.Account],  # noqa: F811
) -> None:
    """With a long page cache, a revoked feed is still a 404 at once."""
    settings = community_settings.model_copy(update={"cache_seconds": 3600})
    add_paper(site_db, "2512.00009", published_at=utcnow() - dt.timedelta(hours=1))
    account = make_user("carol")
    token = signals.new_feed_token(site_db, account.id)
    with TestClient(create_app(settings, site_db)) as anonymous:
        assert anonymous.get(f"/feeds/for-you/{token}.atom").status_code == 200
        signals.revoke_feed_token(site_db, account.id)
        assert anonymous.get(f"/feeds/for-you/{token}.atom").status_code == 404


def test_the_feed_learns_from_its_readers_upvote_and_names_it_to_them_only(
    database: Database,
    rank_settings: Settings,
    corpus: rc.Corpus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On papers with embeddings: the week's topic-B papers lead the feed of a reader who
    upvoted one, with the upvoted paper's title as the reason; another reader's feed never
    names it."""
    evening = dt.datetime.combine(corpus.last_day, dt.time(23))
    monkeypatch.setattr(for_you_feed, "utcnow", lambda: evening)
    alice, bob = rc.add_user(database, "alice"), rc.add_user(database, "bob")
    liked = corpus.topics["B"][3]
    rc.upvote(database, alice, liked)
    tokens = [signals.new_feed_token(database, user) for user in (alice, bob)]
    with TestClient(create_app(rank_settings, database)) as anonymous:
        hers, his = (entries(anonymous, f"/feeds/for-you/{t}") for t in tokens)
    week = {
        corpus.arxiv_of[p]
        for p, day in corpus.day_of.items()
        if day > evening.date() - dt.timedelta(days=7)
    }
    assert {a for a, _ in hers} == week == {a for a, _ in his}
    b_papers = {corpus.arxiv_of[p] for p in corpus.topics["B"]}
    assert {a for a, _ in hers[:3]} <= b_papers
    assert hers[0][1].startswith("Close to “Topic B paper 7”, which you upvoted. — ")
    assert not any("Topic B paper 7" in s or "upvoted" in s for _, s in his)
