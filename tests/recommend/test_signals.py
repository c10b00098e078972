"""The reader's own signals on the real store (SQLite, and PostgreSQL when
PAPERFEED_TEST_DATABASE_URL names one): each write, twice, on an unknown paper, for two
readers (one never sees the other's), "delete all", the settings and the private feed's token."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select, update

from paperfeed.recommend import PaperNotFound, RecommendError, signals
from paperfeed.recommend.signals import (
    SignalPaper,
    add_seeds,
    dismiss,
    forget_all,
    ignore,
    new_feed_token,
    remove_seed,
    revoke_feed_token,
    set_digest_for_you,
    set_follows,
    set_paused,
    signals_of,
    undismiss,
    user_for_feed_token,
)
from paperfeed.store.db import Database
from paperfeed.store.models import AuthorshipClaim, Collection, CollectionItem, Upvote, User, utcnow
from paperfeed.store.reader_models import ReaderImpression, ReaderModel, ReaderPrefs, ReaderSignal
from tests.factories import add_paper
from tests.recommend.rank_corpus import add_user

PAPERS = ["2501.00001", "2501.00002", "2501.00003", "2501.00004", "hep-th/9901001"]
LONG_AGO = dt.datetime(2020, 1, 1)


@pytest.fixture
def site(database: Database) -> tuple[Database, int, int]:
    """Five papers and two readers, alice and bob."""
    PAPER_IDS.clear()
    for n, arxiv_id in enumerate(PAPERS):
        PAPER_IDS.append(
            add_paper(database, arxiv_id, title=f"Invented title {n}", primary_category="cs.CL")
        )
    return database, add_user(database, "alice"), add_user(database, "bob")


PAPER_IDS: list[int] = []  # the store's ids of PAPERS, in the current test


def pid(n: int) -> int:
    """The store's id of the n-th paper (1-based)."""
    return PAPER_IDS[n - 1]


def rows(db: Database, user_id: int, kind: str | None = None) -> list[tuple[str, int]]:
    with db.read() as s:
        stmt = select(ReaderSignal.kind, ReaderSignal.paper_id).where(
            ReaderSignal.user_id == user_id
        )
        if kind:
            stmt = stmt.where(ReaderSignal.kind == kind)
        return sorted((kind, paper_id) for kind, paper_id in s.execute(stmt))


def ids(papers: list[SignalPaper]) -> list[str]:
    return [p.arxiv_id for p in papers]


def test_dismiss_twice_then_undismiss_twice(site: tuple[Database, int, int]) -> None:
    db, alice, bob = site
    dismiss(db, alice, "2501.00001")
    dismiss(db, alice, "https://arxiv.org/abs/2501.00001v2")  # the same paper again
    assert len(rows(db, alice, "dismissed")) == 1
    view = signals_of(db, alice)
    assert ids(view.dismissed) == ["2501.00001"]
    assert view.dismissed[0].title == "Invented title 0" and view.dismissed[0].counted
    assert view.totals["dismissed"] == 1
    assert signals_of(db, bob).dismissed == [] and rows(db, bob) == []
    undismiss(db, alice, "arXiv:2501.00001")
    undismiss(db, alice, "2501.00001")  # not dismissed any more: nothing to do
    assert rows(db, alice) == []


@pytest.mark.parametrize("arxiv_id", ["2501.09999", "not an id", "", "x" * 1000, "2401.0123"])
def test_unknown_papers_are_not_found(site: tuple[Database, int, int], arxiv_id: str) -> None:
    db, alice, _bob = site
    for call in (dismiss, undismiss, remove_seed):
        with pytest.raises(PaperNotFound, match="on this site"):
            call(db, alice, arxiv_id)
    for on in (True, False):
        with pytest.raises(PaperNotFound):
            ignore(db, alice, arxiv_id, on)
    assert issubclass(PaperNotFound, RecommendError) and issubclass(RecommendError, ValueError)
    assert rows(db, alice) == []


def test_add_seeds_known_unknown_malformed_and_twice(site: tuple[Database, int, int]) -> None:
    db, alice, bob = site
    given = ["2501.00002v3", "2501.09999", "hep-th/9901001", "garbage", "arXiv:2501.00002"]
    assert add_seeds(db, alice, given) == (
        ["2501.00002", "hep-th/9901001"],
        ["garbage", "2501.09999"],
    )
    assert add_seeds(db, alice, ["2501.00002"]) == (["2501.00002"], [])
    assert len(rows(db, alice, "seed")) == 2
    # given in one transaction: the same time, then the newer paper first
    assert ids(signals_of(db, alice).seeded) == ["hep-th/9901001", "2501.00002"]
    assert signals_of(db, bob).seeded == []
    assert add_seeds(db, alice, []) == ([], [])
    remove_seed(db, alice, "2501.00002")
    remove_seed(db, alice, "2501.00002")
    assert ids(signals_of(db, alice).seeded) == ["hep-th/9901001"]


def test_seed_limits(site: tuple[Database, int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    db, alice, _bob = site
    with pytest.raises(RecommendError, match="At most 500"):
        add_seeds(db, alice, [f"2401.{n:05d}" for n in range(1, 502)])
    monkeypatch.setattr(signals, "MAX_SEEDS_PER_READER", 3)
    add_seeds(db, alice, PAPERS[:3])
    add_seeds(db, alice, PAPERS[:3])  # the same three again: still room
    with pytest.raises(RecommendError, match="At most 3 seed papers"):
        add_seeds(db, alice, PAPERS[3:4])
    assert len(rows(db, alice, "seed")) == 3


def test_seed_lifts_dismissal_and_ignoring_and_dismissal_drops_seed(
    site: tuple[Database, int, int],
) -> None:
    db, alice, _bob = site
    dismiss(db, alice, PAPERS[0])
    ignore(db, alice, PAPERS[0], True)
    add_seeds(db, alice, [PAPERS[0]])
    assert [k for k, _p in rows(db, alice)] == ["seed"]
    dismiss(db, alice, PAPERS[0])
    assert [k for k, _p in rows(db, alice)] == ["dismissed"]


def test_ignore_on_off_and_what_is_counted(site: tuple[Database, int, int]) -> None:
    db, alice, bob = site
    with db.write() as s:
        for user in (alice, bob):
            s.add(Upvote(user_id=user, paper_id=pid(1)))
            s.add(Upvote(user_id=user, paper_id=pid(2)))
    ignore(db, alice, PAPERS[0], True)
    ignore(db, alice, PAPERS[0], True)
    view = signals_of(db, alice)
    assert {p.arxiv_id: p.counted for p in view.upvoted} == {PAPERS[0]: False, PAPERS[1]: True}
    assert [(p.arxiv_id, p.counted) for p in view.ignored] == [(PAPERS[0], False)]
    assert all(p.counted for p in signals_of(db, bob).upvoted)
    ignore(db, alice, PAPERS[0], False)
    ignore(db, alice, PAPERS[0], False)
    assert all(p.counted for p in signals_of(db, alice).upvoted)
    assert rows(db, alice) == []


def _give_everything(db: Database, user_id: int, when: dt.datetime) -> None:
    """An upvote, two collections holding one paper, an approved and a pending claim, a
    seed, a dismissal, an ignored paper, an impression and a model."""
    with db.write() as s:
        s.add(Upvote(user_id=user_id, paper_id=pid(1), created_at=when))
        for name in ("reading", "later"):
            collection = Collection(user_id=user_id, name=name)
            s.add(collection)
            s.flush()
            s.add(CollectionItem(collection_id=collection.id, paper_id=pid(2), added_at=when))
        s.add(AuthorshipClaim(user_id=user_id, paper_id=pid(3), author_name="A", status="approved"))
        s.add(AuthorshipClaim(user_id=user_id, paper_id=pid(4), author_name="A", status="pending"))
        s.add(ReaderSignal(user_id=user_id, paper_id=pid(4), kind="seed", created_at=when))
        s.add(ReaderSignal(user_id=user_id, paper_id=pid(5), kind="dismissed", created_at=when))
        s.add(ReaderSignal(user_id=user_id, paper_id=pid(1), kind="ignored", created_at=when))
        s.add(ReaderImpression(user_id=user_id, paper_id=pid(5), shown_at=when))
        s.add(ReaderModel(user_id=user_id, method="trending", fingerprint="f" * 64))


def test_signals_of_lists_each_kind_with_totals(site: tuple[Database, int, int]) -> None:
    db, alice, bob = site
    _give_everything(db, alice, LONG_AGO)
    view = signals_of(db, alice)
    assert ids(view.upvoted) == [PAPERS[0]] and not view.upvoted[0].counted  # ignored
    assert ids(view.saved) == [PAPERS[1]] and view.saved[0].at == LONG_AGO
    assert ids(view.claimed) == [PAPERS[2]]  # the pending claim is not listed
    assert ids(view.seeded) == [PAPERS[3]]
    assert ids(view.dismissed) == [PAPERS[4]]
    assert ids(view.ignored) == [PAPERS[0]]
    assert view.totals == {
        "upvoted": 1, "saved": 1, "claimed": 1, "seeded": 1, "dismissed": 1, "ignored": 1
    }  # fmt: skip
    assert all(p.title.startswith("Invented title") for p in view.saved + view.claimed)
    empty = signals_of(db, bob)
    assert set(empty.totals.values()) == {0}
    assert empty.upvoted == empty.saved == empty.claimed == empty.seeded == []


def test_signals_of_newest_first_and_limited(site: tuple[Database, int, int]) -> None:
    db, alice, _bob = site
    with db.write() as s:
        for n in range(1, 6):
            s.add(
                Upvote(user_id=alice, paper_id=pid(n), created_at=LONG_AGO + dt.timedelta(days=n))
            )
    view = signals_of(db, alice, limit=2)
    assert ids(view.upvoted) == [PAPERS[4], PAPERS[3]]
    assert view.totals["upvoted"] == 5


def test_forget_all_keeps_the_site_actions_but_stops_learning_from_them(
    site: tuple[Database, int, int],
) -> None:
    db, alice, bob = site
    for user in (alice, bob):
        _give_everything(db, user, LONG_AGO)
    set_follows(db, alice, ["cs.CL"], ["Ada Example"])
    set_paused(db, alice, True)
    token = new_feed_token(db, alice)
    forget_all(db, alice)
    forget_all(db, alice)  # twice: the same
    assert rows(db, alice) == []
    with db.read() as s:
        for table in (ReaderImpression, ReaderModel):
            assert (
                s.scalar(select(func.count()).select_from(table).where(table.user_id == alice)) == 0
            )
            assert (
                s.scalar(select(func.count()).select_from(table).where(table.user_id == bob)) == 1
            )
    assert len(rows(db, bob)) == 3  # bob's own signals are untouched
    view = signals_of(db, alice)
    assert ids(view.upvoted) == [PAPERS[0]] and ids(view.saved) == [PAPERS[1]]
    assert ids(view.claimed) == [PAPERS[2]]
    assert not any(p.counted for p in view.upvoted + view.saved + view.claimed)
    assert view.seeded == view.dismissed == view.ignored == []
    assert view.prefs.forget_before is not None and view.prefs.paused
    assert view.prefs.categories == ("cs.CL",) and view.prefs.authors == ("Ada Example",)
    assert user_for_feed_token(db, token) == alice
    with db.write() as s:  # a new upvote, after the forgetting, is learned from
        s.add(Upvote(user_id=alice, paper_id=pid(5)))
    newest = signals_of(db, alice).upvoted[0]
    assert (newest.arxiv_id, newest.counted) == (PAPERS[4], True)
    bobs = signals_of(db, bob)  # bob forgot nothing: his saved paper still counts
    assert bobs.prefs.forget_before is None and bobs.saved[0].counted


def test_prefs_default_then_created_lazily(site: tuple[Database, int, int]) -> None:
    db, alice, bob = site
    prefs = signals_of(db, alice).prefs
    assert (prefs.paused, prefs.digest_for_you, prefs.has_feed_token) == (False, True, False)
    assert prefs.categories == prefs.authors == () and prefs.forget_before is None
    set_paused(db, alice, True)
    set_paused(db, alice, True)
    set_digest_for_you(db, alice, False)
    prefs = signals_of(db, alice).prefs
    assert prefs.paused and not prefs.digest_for_you
    set_paused(db, alice, False)
    set_digest_for_you(db, alice, True)
    prefs = signals_of(db, alice).prefs
    assert not prefs.paused and prefs.digest_for_you
    with db.read() as s:
        assert s.get(ReaderPrefs, bob) is None


def test_set_follows_checks_and_cleans(site: tuple[Database, int, int]) -> None:
    db, alice, bob = site
    cats, names = set_follows(
        db,
        alice,
        ["cs.cl", " hep-th ", "CS.CL", "", "cond-mat.stat-mech"],
        ["  Ada   Example ", "ada example", "Émile\tBorel", "Emile Borel", "", " \x00 "],
    )
    assert cats == ["cs.CL", "hep-th", "cond-mat.stat-mech"]  # cs.CL as this site spells it
    assert names == ["Ada Example", "Émile Borel"]
    prefs = signals_of(db, alice).prefs
    assert (list(prefs.categories), list(prefs.authors)) == (cats, names)
    assert signals_of(db, bob).prefs.categories == ()
    assert set_follows(db, alice, [], []) == ([], [])
    assert signals_of(db, alice).prefs.categories == ()


@pytest.mark.parametrize(
    ("categories", "authors", "message"),
    [
        (["cs CL"], [], "not an arXiv category"),
        (["cs.CL;DROP"], [], "not an arXiv category"),
        (["a" * 40], [], "not an arXiv category"),
        (["ćs.CL"], [], "not an arXiv category"),
        ([f"cs.{chr(65 + n // 26)}{chr(65 + n % 26)}" for n in range(51)], [], "at most 50"),
        ([], [f"Author {n}" for n in range(51)], "at most 50"),
        ([], ["x" * 300], "at most 255"),
    ],
)
def test_set_follows_refuses(
    site: tuple[Database, int, int], categories: list[str], authors: list[str], message: str
) -> None:
    db, alice, _bob = site
    set_follows(db, alice, ["cs.LG"], ["Kept Name"])
    with pytest.raises(RecommendError, match=message):
        set_follows(db, alice, categories, authors)
    prefs = signals_of(db, alice).prefs
    assert (prefs.categories, prefs.authors) == (("cs.LG",), ("Kept Name",))


def test_feed_token_new_replace_revoke(site: tuple[Database, int, int]) -> None:
    db, alice, bob = site
    first = new_feed_token(db, alice)
    assert user_for_feed_token(db, first) == alice
    assert signals_of(db, alice).prefs.has_feed_token
    with db.read() as s:
        stored = s.scalar(select(ReaderPrefs.feed_token_hash).where(ReaderPrefs.user_id == alice))
    assert stored == hashlib.sha256(first.encode()).hexdigest()  # only the hash is kept
    second = new_feed_token(db, alice)
    assert second != first
    assert user_for_feed_token(db, first) is None and user_for_feed_token(db, second) == alice
    bobs = new_feed_token(db, bob)
    assert user_for_feed_token(db, bobs) == bob
    revoke_feed_token(db, alice)
    revoke_feed_token(db, alice)
    assert user_for_feed_token(db, second) is None
    assert not signals_of(db, alice).prefs.has_feed_token
    assert user_for_feed_token(db, bobs) == bob
    revoke_feed_token(db, add_user(db, "carol"))  # no prefs row: nothing to do


def test_feed_token_of_a_banned_reader_opens_nothing(site: tuple[Database, int, int]) -> None:
    db, alice, _bob = site
    token = new_feed_token(db, alice)
    with db.write() as s:
        s.execute(update(User).where(User.id == alice).values(is_banned=True))
    assert user_for_feed_token(db, token) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "x",
        "pf_" + "a" * 40,
        "a" * 42,
        "a" * 44,
        "a" * 42 + "=",
        "a" * 10_000,
        "é" * 43,
        "a" * 42 + "\x00",
    ],
)
def test_malformed_feed_tokens_open_nothing(site: tuple[Database, int, int], token: str) -> None:
    db, alice, _bob = site
    new_feed_token(db, alice)
    assert user_for_feed_token(db, token) is None


def test_signal_rows_carry_a_time(site: tuple[Database, int, int]) -> None:
    db, alice, _bob = site
    before = utcnow()
    dismiss(db, alice, PAPERS[1])
    (paper,) = signals_of(db, alice).dismissed
    assert paper.at >= before
