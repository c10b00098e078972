"""One reader's signals as the ranking reads them: positives (with how each was given and
its title, for the reasons), weighted negatives, the papers never to recommend, the
reader's settings, and the fingerprint that tells whether a stored model is stale.

Every query here is filtered by ``user_id``: nothing of one reader reaches another's."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.store.models import (
    AuthorshipClaim,
    Collection,
    CollectionItem,
    Paper,
    ReaderImpression,
    ReaderPrefs,
    ReaderSignal,
    Upvote,
)

# How a positive was given, strongest first: a paper given two ways is told by the first.
KINDS = ("wrote", "named", "saved", "upvoted")
DISMISSED_WEIGHT = 3.0
SKIPPED_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class Positive:
    paper_id: int
    kind: str  # one of KINDS: the verb of the reason ("which you upvoted")
    title: str


@dataclass(frozen=True, slots=True)
class Prefs:
    paused: bool = False
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    forget_before: dt.datetime | None = None

    @property
    def follows(self) -> bool:
        return bool(self.categories or self.authors)


@dataclass(slots=True)
class Signals:
    positives: list[Positive] = field(default_factory=list)
    negatives: dict[int, float] = field(default_factory=dict)  # paper id → weight
    excluded: set[int] = field(default_factory=set)  # never recommended to this reader
    prefs: Prefs = field(default_factory=Prefs)


def _upvotes(user_id: int) -> Any:
    return select(Upvote.paper_id, Upvote.created_at).where(Upvote.user_id == user_id)


def _saved(user_id: int) -> Any:
    return (
        select(CollectionItem.paper_id, CollectionItem.added_at)
        .join(Collection, Collection.id == CollectionItem.collection_id)
        .where(Collection.user_id == user_id)
    )


def _claims(user_id: int, approved_only: bool) -> Any:
    stmt = select(
        AuthorshipClaim.paper_id,
        func.coalesce(AuthorshipClaim.decided_at, AuthorshipClaim.created_at),
    ).where(AuthorshipClaim.user_id == user_id)
    return stmt.where(AuthorshipClaim.status == "approved") if approved_only else stmt


def _own(user_id: int, kind: str) -> Any:
    return select(ReaderSignal.paper_id, ReaderSignal.created_at).where(
        ReaderSignal.user_id == user_id, ReaderSignal.kind == kind
    )


def read_prefs(session: Session, user_id: int) -> Prefs:
    row = session.get(ReaderPrefs, user_id)
    if row is None:
        return Prefs()
    return Prefs(
        paused=bool(row.paused),
        categories=tuple(c for c in row.categories or () if isinstance(c, str)),
        authors=tuple(a for a in row.authors or () if isinstance(a, str)),
        forget_before=row.forget_before,
    )


def gather(session: Session, user_id: int, *, skip_before: dt.datetime) -> Signals:
    """The reader's signals; impressions shown before ``skip_before`` that became neither
    positive nor dismissed are "seen and skipped"."""
    prefs = read_prefs(session, user_id)
    sources = {
        "wrote": _claims(user_id, approved_only=True),
        "named": _own(user_id, "seed"),
        "saved": _saved(user_id),
        "upvoted": _upvotes(user_id),
    }
    given: dict[int, str] = {}
    touched: set[int] = set()
    for kind in KINDS:
        for paper_id, at in session.execute(sources[kind]):
            touched.add(paper_id)
            if prefs.forget_before is None or at is None or at >= prefs.forget_before:
                given.setdefault(paper_id, kind)
    for paper_id in session.scalars(
        _claims(user_id, approved_only=False).with_only_columns(AuthorshipClaim.paper_id)
    ):
        touched.add(paper_id)
    for paper_id in session.scalars(
        _own(user_id, "ignored").with_only_columns(ReaderSignal.paper_id)
    ):
        given.pop(paper_id, None)
    signals = Signals(prefs=prefs, excluded=touched)
    if given:
        rows = session.execute(select(Paper.id, Paper.title).where(Paper.id.in_(given)))
        titles = {int(pid): str(title) for pid, title in rows}
        signals.positives = [
            Positive(pid, kind, titles.get(pid, "")) for pid, kind in sorted(given.items())
        ]
    _negatives(session, user_id, signals, touched, skip_before)
    return signals


def _negatives(
    session: Session, user_id: int, signals: Signals, touched: set[int], skip_before: dt.datetime
) -> None:
    forget = signals.prefs.forget_before
    for paper_id, at in session.execute(_own(user_id, "dismissed")):
        signals.excluded.add(paper_id)
        if forget is None or at >= forget:
            signals.negatives[paper_id] = DISMISSED_WEIGHT
    shown = select(ReaderImpression.paper_id).where(
        ReaderImpression.user_id == user_id, ReaderImpression.shown_at < skip_before
    )
    if forget is not None:
        shown = shown.where(ReaderImpression.shown_at >= forget)
    for paper_id in session.scalars(shown):
        if paper_id not in touched:
            signals.negatives.setdefault(paper_id, SKIPPED_WEIGHT)


def fingerprint(
    session: Session, user_id: int, *, skip_before: dt.datetime, embedding_model: str | None
) -> str:
    """SHA-256 over what a model of this reader is trained from: per source, how many rows
    and the newest, the settings, and the embedding model. A different one: stale."""
    aggregates = [
        select(func.count(), func.max(Upvote.created_at)).where(Upvote.user_id == user_id),
        select(func.count(), func.max(CollectionItem.added_at))
        .join(Collection, Collection.id == CollectionItem.collection_id)
        .where(Collection.user_id == user_id),
        select(func.count(), func.max(AuthorshipClaim.decided_at)).where(
            AuthorshipClaim.user_id == user_id, AuthorshipClaim.status == "approved"
        ),
        select(func.count(), func.max(ReaderSignal.created_at)).where(
            ReaderSignal.user_id == user_id
        ),
        select(func.count(), func.max(ReaderImpression.shown_at)).where(
            ReaderImpression.user_id == user_id, ReaderImpression.shown_at < skip_before
        ),
    ]
    parts: list[Any] = [
        [row[0], _iso(row[1])] for row in (session.execute(a).one() for a in aggregates)
    ]
    prefs = read_prefs(session, user_id)
    parts.append(
        [prefs.paused, sorted(prefs.categories), sorted(prefs.authors), _iso(prefs.forget_before)]
    )
    parts.append(embedding_model)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
