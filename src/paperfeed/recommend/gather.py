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

from sqlalchemy import String, bindparam, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from paperfeed.recommend.prefs import PrefsView, prefs_view
from paperfeed.store.models import AuthorshipClaim, Collection, CollectionItem, Paper, Upvote
from paperfeed.store.reader_models import ReaderImpression, ReaderSignal

# How a positive was given, strongest first: a paper given two ways is told by the first.
KINDS = ("wrote", "named", "saved", "upvoted")
DISMISSED_WEIGHT = 3.0
SKIPPED_WEIGHT = 1.0
# Part of every fingerprint: a new value makes every stored model stale, so each is
# retrained once (2: the fused model, with its term half).
MODEL_VERSION = 2
SHOWN = "shown"  # an impression, beside the kinds given (never a kind of reader_signals)


@dataclass(frozen=True, slots=True)
class Positive:
    paper_id: int
    kind: str  # one of KINDS: the verb of the reason ("which you upvoted")
    title: str
    given_at: dt.datetime | None = None  # the latest time it was given (any way)


@dataclass(slots=True)
class Signals:
    positives: list[Positive] = field(default_factory=list)
    negatives: dict[int, float] = field(default_factory=dict)  # paper id → weight
    excluded: set[int] = field(default_factory=set)  # never recommended to this reader
    prefs: PrefsView = field(default_factory=PrefsView)
    shown: set[int] = field(default_factory=set)  # every paper ever shown (impressions)


def _given(user_id: Any) -> list[Any]:
    """Every (paper, when, kind) the reader gave, a SELECT a source: ``upvoted``, ``saved``,
    ``wrote`` (approved claim), ``claimed`` (other claims), and ``reader_signals`` kinds."""
    claim_kind = case((AuthorshipClaim.status == "approved", "wrote"), else_="claimed")
    return [
        select(Upvote.paper_id, Upvote.created_at, literal("upvoted", String)).where(
            Upvote.user_id == user_id
        ),
        select(CollectionItem.paper_id, CollectionItem.added_at, literal("saved", String))
        .join(Collection, Collection.id == CollectionItem.collection_id)
        .where(Collection.user_id == user_id),
        select(
            AuthorshipClaim.paper_id,
            func.coalesce(AuthorshipClaim.decided_at, AuthorshipClaim.created_at),
            claim_kind,
        ).where(AuthorshipClaim.user_id == user_id),
        select(ReaderSignal.paper_id, ReaderSignal.created_at, ReaderSignal.kind).where(
            ReaderSignal.user_id == user_id
        ),
    ]


def _given_and_shown(user_id: Any) -> Any:
    """``_given``, each with its paper's title (NULL for a paper not in ``papers``), and the
    reader's impressions (kind ``shown``, no title), in one statement: the one round trip of
    what were three, and the impressions that recording an answer would look up (For you on
    PostgreSQL, benchmarks/RESULTS.md)."""
    shown = select(
        ReaderImpression.paper_id, ReaderImpression.shown_at, literal(SHOWN, String)
    ).where(ReaderImpression.user_id == user_id)
    rows = union_all(*_given(user_id), shown).subquery()  # one level: SQLite nests none
    paper_id, at, kind = rows.c
    title = select(Paper.title).where(Paper.id == paper_id).scalar_subquery()
    return select(paper_id, at, kind, case((kind == SHOWN, None), else_=title))


def gather(session: Session, user_id: int, *, skip_before: dt.datetime) -> Signals:
    """The reader's signals; impressions shown before ``skip_before`` that became neither
    positive nor dismissed are "seen and skipped"."""
    prefs = prefs_view(session, user_id)
    forget = prefs.forget_before
    given: dict[int, str] = {}
    latest: dict[int, dt.datetime] = {}
    ignored: set[int] = set()
    shown: list[int] = []
    titles: dict[int, str] = {}
    signals = Signals(prefs=prefs)
    for paper_id, at, raw, title in session.execute(_GIVEN_AND_SHOWN, {"user_id": user_id}):
        kind = "named" if raw == "seed" else str(raw)
        if title is not None:
            titles[paper_id] = str(title)
        if kind == SHOWN:
            signals.shown.add(paper_id)
            if at < skip_before and (forget is None or at >= forget):
                shown.append(paper_id)
        elif kind == "ignored":  # not learned from; not hidden for that
            ignored.add(paper_id)
        else:
            _given_one(signals, given, paper_id, at, kind)
            if at is not None and (paper_id not in latest or at > latest[paper_id]):
                latest[paper_id] = at
    for paper_id in ignored:
        given.pop(paper_id, None)
    signals.positives = [
        Positive(pid, kind, titles.get(pid, ""), latest.get(pid))
        for pid, kind in sorted(given.items())
    ]
    # Papers shown before ``skip_before`` (and since ``forget_before``) not acted on.
    for paper_id in shown:
        if paper_id not in signals.excluded:
            signals.negatives.setdefault(paper_id, SKIPPED_WEIGHT)
    return signals


def _given_one(signals: Signals, given: dict[int, str], paper_id: int, at: Any, kind: str) -> None:
    """One row the reader gave: excluded; a dismissal is a negative, a positive kind (the
    strongest when given several ways) a positive, unless before ``forget_before``."""
    forget = signals.prefs.forget_before
    signals.excluded.add(paper_id)
    if kind == "dismissed":
        if forget is None or at >= forget:
            signals.negatives[paper_id] = DISMISSED_WEIGHT
    elif kind in KINDS and (forget is None or at is None or at >= forget):
        known = given.get(paper_id)
        if known is None or KINDS.index(kind) < KINDS.index(known):
            given[paper_id] = kind


def _count_max(column: Any, *where: Any) -> list[Any]:
    """How many rows, and the newest ``column``, as two scalar subqueries."""
    base = select(func.count()).where(*where)
    if column is CollectionItem.added_at:
        base = base.select_from(CollectionItem).join(
            Collection, Collection.id == CollectionItem.collection_id
        )
    newest = base.with_only_columns(func.max(column))
    return [base.scalar_subquery(), newest.scalar_subquery()]


def _fingerprint_sources(user_id: Any, skip_before: Any) -> Any:
    """Per source, how many rows and the newest, as one SELECT (indexed by reader)."""
    sources = [
        _count_max(Upvote.created_at, Upvote.user_id == user_id),
        _count_max(CollectionItem.added_at, Collection.user_id == user_id),
        _count_max(
            AuthorshipClaim.decided_at,
            AuthorshipClaim.user_id == user_id,
            AuthorshipClaim.status == "approved",
        ),
        _count_max(ReaderSignal.created_at, ReaderSignal.user_id == user_id),
        _count_max(
            ReaderImpression.shown_at,
            ReaderImpression.user_id == user_id,
            ReaderImpression.shown_at < skip_before,
        ),
    ]
    return select(*(q for pair in sources for q in pair))


# Built once: building these statements (and their cache keys) cost 0.25 and 0.53 ms of CPU
# per request, a tenth of a recommendation (benchmarks/RESULTS.md, For you over HTTP).
_USER: Any = bindparam("user_id")
_GIVEN_AND_SHOWN = _given_and_shown(_USER)
_SOURCES = _fingerprint_sources(_USER, bindparam("skip_before"))


def fingerprint(
    session: Session,
    user_id: int,
    *,
    skip_before: dt.datetime,
    embedding_model: str | None,
    prefs: PrefsView | None = None,
) -> str:
    """SHA-256 over what a model of this reader is trained from: per source, how many rows
    and the newest (one statement, indexed by reader), the settings, the embedding model.
    A different one: stale."""
    row = session.execute(_SOURCES, {"user_id": user_id, "skip_before": skip_before}).one()
    parts: list[Any] = [[row[i], _iso(row[i + 1])] for i in range(0, len(row), 2)]
    prefs = prefs if prefs is not None else prefs_view(session, user_id)
    parts.append(
        [prefs.paused, sorted(prefs.categories), sorted(prefs.authors), _iso(prefs.forget_before)]
    )
    parts.append(embedding_model)
    parts.append(MODEL_VERSION)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _iso(moment: object) -> str | None:
    if moment is None:
        return None
    return moment.isoformat() if isinstance(moment, dt.datetime) else str(moment)
