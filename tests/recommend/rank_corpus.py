"""A corpus for the ranking tests, with embeddings made by hand: two topics (A and B), each
paper's vector its topic's axis plus seeded noise, unit length, under the embedding model's
name. Papers are first published one a day, alternating topics. Titles are invented."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from sqlalchemy import select

from paperfeed.config import Settings, get_settings
from paperfeed.recommend import candidates
from paperfeed.store.db import Database
from paperfeed.store.embeddings import to_blob
from paperfeed.store.models import (
    AuthorshipClaim,
    Collection,
    CollectionItem,
    PaperEmbedding,
    Upvote,
    User,
    utcnow,
)
from paperfeed.store.reader_models import ReaderImpression, ReaderModel, ReaderPrefs, ReaderSignal
from tests.factories import add_paper

DIM = 16
FIRST_DAY = dt.date(2025, 3, 1)
PER_TOPIC = 12


def model_name(settings: Settings) -> str:
    return f"all-MiniLM-L6-v2:{settings.embedding_backend}"


@dataclass
class Corpus:
    """Paper ids by topic (in publication order) and each paper's publication day."""

    topics: dict[str, list[int]] = field(default_factory=dict)
    day_of: dict[int, dt.date] = field(default_factory=dict)
    arxiv_of: dict[int, str] = field(default_factory=dict)

    def topic_of(self, paper_id: int) -> str:
        return next(t for t, ids in self.topics.items() if paper_id in ids)

    @property
    def last_day(self) -> dt.date:
        return max(self.day_of.values())


def vector(topic: str, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(0.0, 0.25, DIM)
    v[0 if topic == "A" else 1] += 1.0
    return v / np.linalg.norm(v)


def build(db: Database, settings: Settings, per_topic: int = PER_TOPIC) -> Corpus:
    rng = np.random.default_rng(7)
    corpus = Corpus(topics={"A": [], "B": []})
    for i in range(2 * per_topic):
        topic = "AB"[i % 2]
        day = FIRST_DAY + dt.timedelta(days=i)
        arxiv_id = f"2503.{30000 + i}"
        at = dt.datetime.combine(day, dt.time(12))
        paper_id = add_paper(
            db,
            arxiv_id,
            title=f"Topic {topic} paper {i}",
            categories=["cs.CL"] if topic == "A" else ["q-bio.NC"],
            primary_category="cs.CL" if topic == "A" else "q-bio.NC",
            authors=[f"Author {topic}{i}", "Common Person"],
            published_at=at,
            imported_upvotes=i % 5,
        )
        embed(db, settings, paper_id, vector(topic, rng))
        corpus.topics[topic].append(paper_id)
        corpus.day_of[paper_id] = day
        corpus.arxiv_of[paper_id] = arxiv_id
    return corpus


def embed(db: Database, settings: Settings, paper_id: int, vec: np.ndarray) -> None:
    with db.write() as s:
        s.merge(
            PaperEmbedding(
                paper_id=paper_id,
                model=model_name(settings),
                dim=len(vec),
                vector=to_blob(vec),
                content_hash="test",
                embedded_at=utcnow(),
            )
        )


def add_user(db: Database, name: str) -> int:
    with db.write() as s:
        user = User(username=name, email=f"{name}@example.org", password_hash="x")
        s.add(user)
        s.flush()
        return user.id


def upvote(db: Database, user_id: int, *paper_ids: int, at: dt.datetime | None = None) -> None:
    with db.write() as s:
        for p in paper_ids:
            s.add(Upvote(user_id=user_id, paper_id=p, created_at=at or utcnow()))


def signal(db: Database, user_id: int, kind: str, *paper_ids: int) -> None:
    with db.write() as s:
        for p in paper_ids:
            s.add(ReaderSignal(user_id=user_id, paper_id=p, kind=kind, created_at=utcnow()))


def save(db: Database, user_id: int, *paper_ids: int) -> None:
    with db.write() as s:
        coll = Collection(user_id=user_id, name="reading")
        s.add(coll)
        s.flush()
        for p in paper_ids:
            s.add(CollectionItem(collection_id=coll.id, paper_id=p))


def claim(db: Database, user_id: int, paper_id: int, status: str = "approved") -> None:
    with db.write() as s:
        s.add(
            AuthorshipClaim(
                user_id=user_id,
                paper_id=paper_id,
                author_name="Common Person",
                status=status,
                decided_at=utcnow() if status == "approved" else None,
            )
        )


def shown(db: Database, user_id: int, *paper_ids: int, hours_ago: float) -> None:
    at = utcnow() - dt.timedelta(hours=hours_ago)
    with db.write() as s:
        for p in paper_ids:
            s.add(ReaderImpression(user_id=user_id, paper_id=p, shown_at=at))


def set_prefs(db: Database, user_id: int, **fields: object) -> None:
    with db.write() as s:
        row = s.get(ReaderPrefs, user_id)
        if row is None:
            row = ReaderPrefs(user_id=user_id)
            s.add(row)
        for key, value in fields.items():
            setattr(row, key, value)


def stored(db: Database, user_id: int) -> ReaderModel | None:
    with db.read() as s:
        row = s.get(ReaderModel, user_id)
        if row is not None:
            s.expunge(row)
        return row


def impressions(db: Database, user_id: int) -> dict[int, dt.datetime]:
    with db.read() as s:
        rows = s.execute(
            select(ReaderImpression.paper_id, ReaderImpression.shown_at).where(
                ReaderImpression.user_id == user_id
            )
        )
        return {int(p): at for p, at in rows}


@pytest.fixture
def rank_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The test's settings, checking for new embeddings on every read (CLI commands too)."""
    monkeypatch.setenv("PAPERFEED_ANN_REFRESH_SECONDS", "0")
    get_settings.cache_clear()
    candidates.forget_pools()
    yield settings.model_copy(update={"ann_refresh_seconds": 0.0})
    candidates.forget_pools()
    get_settings.cache_clear()


@pytest.fixture
def corpus(database: Database, rank_settings: Settings) -> Corpus:
    return build(database, rank_settings)
