"""The personal feed's tables (migration 0011, paperfeed/recommend/): a reader's own signals
beyond upvotes, collections and claims, their settings, and the models learned from them.
Apart from ``models.py`` to keep modules short; the same ``Base`` and conventions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from paperfeed.store.models import Base, utcnow


def part_of_key(target: str, *, index: bool = False) -> Mapped[int]:
    """A key column that is also a reference: the row goes when ``target``'s row goes (a
    reader's rows are theirs alone: deleting the account deletes them)."""
    return mapped_column(ForeignKey(target, ondelete="CASCADE"), primary_key=True, index=index)


# --------------------------------------------------------------------------- for you
# A reader's own signals beyond upvotes, collections and claims, their settings, and the
# models learned from them (migration 0011, paperfeed/recommend/). Private to the reader.


class ReaderSignal(Base):
    """A signal a reader gave by hand: ``seed`` (a paper named at onboarding), ``dismissed``
    ("not interested") or ``ignored`` (an upvote, saved paper or claim not to learn from)."""

    __tablename__ = "reader_signals"

    user_id: Mapped[int] = part_of_key("users.id")
    paper_id: Mapped[int] = part_of_key("papers.id", index=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReaderImpression(Base):
    """A paper first shown to a reader in their personal feed or digest section: one that is
    then neither upvoted nor saved becomes a background negative ("seen and skipped")."""

    __tablename__ = "reader_impressions"

    user_id: Mapped[int] = part_of_key("users.id")
    paper_id: Mapped[int] = part_of_key("papers.id")
    shown_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReaderPrefs(Base):
    """A reader's settings for the personal feed. ``forget_before``: upvotes, saves and claims
    older than this are not learned from ("delete all my signals" keeps the votes
    themselves). ``feed_token_hash``: SHA-256 hex of the private feed's secret."""

    __tablename__ = "reader_prefs"

    user_id: Mapped[int] = part_of_key("users.id")
    paused: Mapped[bool] = mapped_column(default=False, server_default="0")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest_for_you: Mapped[bool] = mapped_column(default=True, server_default="1")
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    forget_before: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReaderModel(Base):
    """A reader's learned model: derived data, rebuilt from the signals at any time
    (``paperfeed recommend rebuild``). ``method``: ``linear`` (``weights``: float32
    little-endian, the embedding's dimension then the bias), ``nearest``, ``follows`` or
    ``trending`` (cold start: no weights). ``fingerprint`` names the signals it was trained
    on; a different one means the model is stale."""

    __tablename__ = "reader_models"

    user_id: Mapped[int] = part_of_key("users.id")
    method: Mapped[str] = mapped_column(String(16))
    embedding_model: Mapped[str | None] = mapped_column(String(128))
    weights: Mapped[bytes | None] = mapped_column(LargeBinary)
    # ``linear`` only: the term model (``recommend.sparse_model.SparseLinear.to_bytes``);
    # None for a model trained before it existed (it ranks without terms until retrained).
    term_weights: Mapped[bytes | None] = mapped_column(LargeBinary)
    positives: Mapped[int] = mapped_column(Integer, default=0)
    negatives: Mapped[int] = mapped_column(Integer, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PaperTerms(Base):
    """A paper's words as the For you term model reads them (migration 0013, derived data
    like ``paper_embeddings``, refilled by ``recommend.terms.fill``): the hashed 1–2-gram
    counts of its title and abstract, ``counts`` = int32 little-endian columns then uint16
    counts. ``paper_modified_at``: the paper's ``modified_at`` when they were counted (an
    older one than the paper's: counted again)."""

    __tablename__ = "paper_terms"

    paper_id: Mapped[int] = part_of_key("papers.id")
    counts: Mapped[bytes] = mapped_column(LargeBinary)
    paper_modified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
