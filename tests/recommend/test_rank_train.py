"""Which method ranks for a reader, how models are kept fresh, and that one reader's model
is never another's."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from paperfeed.cli.worker import refresh_models
from paperfeed.config import Settings
from paperfeed.recommend import train
from paperfeed.recommend.service import recommend
from paperfeed.store.db import Database
from paperfeed.store.models import utcnow
from paperfeed.store.reader_models import ReaderModel
from tests.recommend import rank_corpus as rc
from tests.recommend.rank_corpus import corpus, rank_settings

__all__ = ["corpus", "rank_settings"]


def method_for(db: Database, settings: Settings, user_id: int, corpus: rc.Corpus) -> str:
    found = recommend(
        db, settings, user_id, start=rc.FIRST_DAY, end=corpus.last_day, limit=10, record=False
    )
    return found.method


@pytest.mark.parametrize(
    ("upvotes", "follows", "method"),
    [
        (0, False, "trending"),
        (0, True, "follows"),
        (1, True, "nearest"),
        (4, False, "nearest"),
        (5, False, "linear"),
        (8, True, "linear"),
    ],
)
def test_the_method_follows_the_counts(
    database: Database,
    rank_settings: Settings,
    corpus: rc.Corpus,
    upvotes: int,
    follows: bool,
    method: str,
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, *corpus.topics["A"][:upvotes])
    if follows:
        rc.set_prefs(database, reader, categories=["q-bio.NC"])
    assert method_for(database, rank_settings, reader, corpus) == method
    model = rc.stored(database, reader)  # a reader with no model is trained inline
    assert model is not None and model.method == method
    assert (model.weights is not None) == (method == "linear")


def test_positives_without_embeddings_do_not_count(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    from tests.factories import add_paper

    reader = rc.add_user(database, "ranker")
    bare = [add_paper(database, f"2503.4000{i}") for i in range(5)]
    rc.upvote(database, reader, *bare)
    assert method_for(database, rank_settings, reader, corpus) == "trending"


def test_follows_rank_followed_papers_with_their_reason(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.set_prefs(database, reader, categories=["q-bio.NC"], authors=["author a4"])
    found = recommend(
        database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=50
    )
    assert found.method == "follows"
    reasons = [r.reason for r in found.items]
    assert reasons.count("in q-bio.NC, which you follow") == len(corpus.topics["B"])
    assert reasons.count("by Author A4, whom you follow") == 1
    followed = len(corpus.topics["B"]) + 1
    # then the rest of the range, so that a short list is still a list
    assert set(reasons[followed:]) == {"trending this week"}
    upvotes = [r.item.upvotes for r in found.items[:followed]]
    assert upvotes == sorted(upvotes, reverse=True)


def test_a_stale_model_ranks_while_the_background_trainer_replaces_it(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, *corpus.topics["A"][:5])
    assert method_for(database, rank_settings, reader, corpus) == "linear"
    old = rc.stored(database, reader)
    assert old is not None and old.positives == 5
    rc.upvote(database, reader, corpus.topics["B"][0])
    assert method_for(database, rank_settings, reader, corpus) == "linear"
    assert train.trainer_for(database, rank_settings).wait_idle(30)
    new = rc.stored(database, reader)
    assert new is not None and new.positives == 6
    assert new.fingerprint != old.fingerprint and new.weights != old.weights


def test_a_paused_reader_is_not_retrained(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, *corpus.topics["A"][:5])
    method_for(database, rank_settings, reader, corpus)
    rc.set_prefs(database, reader, paused=True)
    rc.upvote(database, reader, corpus.topics["B"][0])
    assert method_for(database, rank_settings, reader, corpus) == "linear"
    assert train.trainer_for(database, rank_settings).wait_idle(30)
    assert refresh_models(database, rank_settings) == 0
    model = rc.stored(database, reader)
    assert model is not None and model.positives == 5


def test_the_worker_retrains_stale_models_in_bounded_turns(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    readers = [rc.add_user(database, f"reader{i}") for i in range(3)]
    for reader in readers:
        rc.upvote(database, reader, corpus.topics["A"][0])
    assert train.rebuild(database, rank_settings) == 3
    assert refresh_models(database, rank_settings) == 0
    for reader in readers:
        rc.signal(database, reader, "dismissed", corpus.topics["B"][1])
    two = rank_settings.model_copy(update={"recommend_refresh_per_pass": 2})
    assert refresh_models(database, two) == 2
    assert refresh_models(database, two) == 1
    assert refresh_models(database, two) == 0
    assert refresh_models(database, two) == 0


def test_forgotten_signals_are_not_learned_from(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    reader = rc.add_user(database, "ranker")
    long_ago = utcnow() - dt.timedelta(days=30)
    rc.upvote(database, reader, *corpus.topics["A"][:5], at=long_ago)
    rc.set_prefs(database, reader, forget_before=utcnow() - dt.timedelta(days=1))
    assert method_for(database, rank_settings, reader, corpus) == "trending"
    rc.upvote(database, reader, corpus.topics["B"][0])
    found = recommend(
        database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=30
    )
    assert found.method == "nearest"
    assert {r.reason for r in found.items} == {"close to “Topic B paper 1”, which you upvoted"}
    shown_ids = {r.item.arxiv_id for r in found.items}
    assert shown_ids.isdisjoint({corpus.arxiv_of[p] for p in corpus.topics["A"][:5]})


def test_one_readers_model_and_signals_never_serve_another(
    database: Database, rank_settings: Settings, corpus: rc.Corpus
) -> None:
    alice, bob = rc.add_user(database, "alice"), rc.add_user(database, "bob")
    rc.upvote(database, alice, *corpus.topics["A"][:6])
    rc.signal(database, alice, "dismissed", corpus.topics["B"][0])
    assert method_for(database, rank_settings, alice, corpus) == "linear"
    alice_model = rc.stored(database, alice)
    found = recommend(
        database, rank_settings, bob, start=rc.FIRST_DAY, end=corpus.last_day, limit=50
    )
    assert found.method == "trending"
    assert all("which you" not in r.reason for r in found.items)
    # Alice's upvotes and dismissal exclude nothing from Bob's list
    assert len(found.items) == 2 * len(corpus.topics["A"])
    rc.upvote(database, bob, corpus.topics["B"][2])
    bobs = recommend(database, rank_settings, bob, start=rc.FIRST_DAY, end=corpus.last_day, limit=3)
    assert bobs.method == "nearest"
    assert all(r.item.title.startswith("Topic B") for r in bobs.items)
    assert rc.stored(database, alice) is not None
    assert rc.stored(database, alice).weights == alice_model.weights  # type: ignore[union-attr]
    assert rc.impressions(database, alice) == {}
    assert len(rc.impressions(database, bob)) == 2 * len(corpus.topics["A"])  # each once


def test_a_first_model_stored_meanwhile_by_another_process_is_replaced(
    database: Database, rank_settings: Settings, corpus: rc.Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = rc.add_user(database, "ranker")
    rc.upvote(database, reader, corpus.topics["A"][0])
    real_write = train._write
    raced: list[bool] = []

    def racing(db: Database, user_id: int, stored: train.StoredModel) -> None:
        if not raced:  # another process inserts the row between our look and our insert
            raced.append(True)
            with db.write() as session:
                session.add(ReaderModel(user_id=user_id, method="trending", fingerprint="x"))
            raise IntegrityError("INSERT INTO reader_models", {}, Exception("duplicate key"))
        real_write(db, user_id, stored)

    monkeypatch.setattr(train, "_write", racing)
    found = recommend(
        database, rank_settings, reader, start=rc.FIRST_DAY, end=corpus.last_day, limit=3
    )
    assert raced and found.method == "nearest"
    model = rc.stored(database, reader)
    assert model is not None and model.method == "nearest" and model.fingerprint != "x"


@pytest.mark.parametrize(
    "change", ["upvote", "save", "claim", "seed", "dismiss", "skipped", "prefs", "pending"]
)
def test_every_source_moves_the_fingerprint(
    database: Database, rank_settings: Settings, corpus: rc.Corpus, change: str
) -> None:
    from paperfeed.recommend.gather import fingerprint

    reader = rc.add_user(database, "ranker")
    rc.shown(database, reader, corpus.topics["B"][5], hours_ago=1)  # recent: no signal yet

    def mark() -> str:
        before = train.skip_before(rank_settings)
        with database.read() as s:
            return fingerprint(s, reader, skip_before=before, embedding_model="m")

    first = mark()
    paper = corpus.topics["A"][1]
    {
        "upvote": lambda: rc.upvote(database, reader, paper),
        "save": lambda: rc.save(database, reader, paper),
        "claim": lambda: rc.claim(database, reader, paper),
        "pending": lambda: rc.claim(database, reader, paper, status="pending"),
        "seed": lambda: rc.signal(database, reader, "seed", paper),
        "dismiss": lambda: rc.signal(database, reader, "dismissed", paper),
        "skipped": lambda: rc.shown(database, reader, paper, hours_ago=25),
        "prefs": lambda: rc.set_prefs(database, reader, authors=["Common Person"]),
    }[change]()
    assert (mark() != first) == (change != "pending")  # a pending claim teaches nothing
    with database.read() as s:
        other = fingerprint(
            s, reader, skip_before=train.skip_before(rank_settings), embedding_model="n"
        )
    assert other != mark()
