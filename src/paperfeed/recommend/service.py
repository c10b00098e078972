"""What the pages, the API, the private feed and the digest call: one reader's
recommendations among the papers first published in a date range, best first, each with
its score and the reason it is there.

Papers the reader upvoted, saved, claimed, named or dismissed are never recommended. The
papers returned are recorded as shown (``reader_impressions``, first showing only, at most
``MAX_IMPRESSIONS`` a reader, the oldest dropped): those not acted on become weak negatives
after ``PAPERFEED_RECOMMEND_SKIP_AFTER_HOURS``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, String, and_, cast, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed import papers
from paperfeed.config import Settings
from paperfeed.papers import FeedItem
from paperfeed.papers.items import UPVOTES
from paperfeed.recommend.blas import one_thread
from paperfeed.recommend.candidates import Candidates, candidates
from paperfeed.recommend.fuse import fuse
from paperfeed.recommend.gather import Positive, Signals, gather
from paperfeed.recommend.train import (
    TRENDING_REASON,
    StoredModel,
    author_reason,
    category_reason,
    choose_method,
    close_reason,
    is_stale,
    load_model,
    skip_before,
    train,
    trainer_for,
)
from paperfeed.store.db import Database
from paperfeed.store.dialect import Ops
from paperfeed.store.models import Paper, PaperName, utcnow
from paperfeed.store.reader_models import ReaderImpression
from paperfeed.text import name_key

MAX_IMPRESSIONS = 2000
FEATURED_AFTER = dt.timedelta(days=7)
# The nearest positive is computed against at most this many positives, the most recently
# given: its cost is candidates × positives × 384 (10,000 × 200: 11-12 ms; × 50 about 3 ms
# on a quiet box, which kept /api/recommendations over its 10 ms p50: RESULTS.md, "For you:
# the fused model over HTTP"), and the reason ("close to …") names the nearest of these.
NEAREST_CAP = 20
Ranked = list[tuple[int, float, str]]  # (paper id, score, reason), best first


@dataclass(slots=True)
class Recommendation:
    item: FeedItem
    score: float
    reason: str


@dataclass(slots=True)
class Recommendations:
    method: str  # linear | nearest | follows | trending
    items: list[Recommendation]


def recommend(
    db: Database,
    settings: Settings,
    user_id: int,
    *,
    start: dt.date,
    end: dt.date,
    limit: int,
    record: bool = True,
) -> Recommendations:
    """Up to ``limit`` papers first published from ``start`` to ``end`` (both included) for
    the reader ``user_id``, best first. ``record``: write them as shown to the reader."""
    cands = candidates(db, settings)
    with db.quick_read() as session:
        signals = gather(session, user_id, skip_before=skip_before(settings))
        stored = load_model(session, user_id)
        stale = stored is not None and is_stale(
            session, settings, user_id, stored, cands.model, signals.prefs
        )
    method, model = _method(db, settings, user_id, cands, signals, stored, stale)
    with db.quick_read() as session:
        ranked = _rank(session, settings, (method, model), cands, signals, (start, end), limit)
        items = papers.items_by_paper_ids(session, [r[0] for r in ranked], db.ops)
    found = [(pid, score, reason) for pid, score, reason in ranked if pid in items]
    if record and found:
        record_impressions(db, user_id, [pid for pid, _, _ in found], shown=signals.shown)
    return Recommendations(method, [Recommendation(items[p], s, r) for p, s, r in found])


def _method(
    db: Database,
    settings: Settings,
    user_id: int,
    cands: Candidates,
    signals: Signals,
    stored: StoredModel | None,
    stale: bool,
) -> tuple[str, StoredModel | None]:
    """The method that ranks now, and the stored model when it is ``linear``. A reader with
    no model is trained here (cold start is cheap); a stale model is used while the
    background trainer replaces it (not while the reader has paused learning)."""
    if stored is None:
        stored = train(db, settings, user_id, cands=cands)
    elif stale and not signals.prefs.paused:
        trainer_for(db, settings).submit(user_id)
    embedded = len(cands.rows([p.paper_id for p in signals.positives]))
    live = choose_method(embedded, signals.prefs, settings.recommend_min_positives)
    if live != "linear":
        return live, None
    if stored.linear is not None and stored.embedding_model == cands.model:
        return "linear", stored
    # Just past the minimum: the nearest papers until the linear model is learned.
    return "nearest", None


def _rank(
    session: Session,
    settings: Settings,
    how: tuple[str, StoredModel | None],
    cands: Candidates,
    signals: Signals,
    days: tuple[dt.date, dt.date],
    limit: int,
) -> Ranked:
    method, model = how
    ranked: Ranked = []
    if method in ("linear", "nearest"):
        ranked = _by_vectors(cands, signals, model, days, limit)
    if len(ranked) < limit and method in ("linear", "nearest", "follows") and signals.prefs.follows:
        ranked += _by_follows(session, signals, days, limit, _taken(ranked, signals))
    if len(ranked) < limit:
        ranked += _by_trending(session, settings, days, limit, _taken(ranked, signals))
    return ranked[:limit]


def _taken(ranked: Ranked, signals: Signals) -> set[int]:
    """Papers a later list must skip: those already ranked, and the excluded ones. (A
    ranking by vectors that came short has ranked every embedded paper of the range.)"""
    return signals.excluded | {pid for pid, _, _ in ranked}


def recent_positives(cands: Candidates, signals: Signals) -> list[Positive]:
    """The positives with an embedding, at most ``NEAREST_CAP``: the most recently given
    (in the signals' order)."""
    embedded = [p for p in signals.positives if p.paper_id in cands.row_of]
    if len(embedded) <= NEAREST_CAP:
        return embedded
    newest = sorted(embedded, key=lambda p: p.given_at or dt.datetime.min, reverse=True)
    kept = {p.paper_id for p in newest[:NEAREST_CAP]}
    return [p for p in embedded if p.paper_id in kept]


def _by_vectors(
    cands: Candidates,
    signals: Signals,
    model: StoredModel | None,
    days: tuple[dt.date, dt.date],
    limit: int,
) -> Ranked:
    """``linear``: the fused score (``fuse.py``: terms, embedding model, nearest positive);
    ``nearest``: the best cosine to a positive. Reasons: the nearest positive."""
    span = cands.span(*days)
    ids = cands.ids[span]
    if len(ids) == 0:
        return []
    vectors = cands.vectors[span]
    near = recent_positives(cands, signals)
    pos_vectors = cands.vectors[cands.rows([p.paper_id for p in near])]
    with one_thread():
        # nearest: the best cosine to a positive (vectors are unit length)
        scores = (vectors @ pos_vectors.T).max(axis=1)
        if model is not None and model.linear is not None:
            words = model.terms.score(cands.term_rows(span)) if model.terms is not None else None
            scores = fuse(words, model.linear.score(vectors), scores)
        scores = np.where(np.isin(ids, list(signals.excluded)), -np.inf, scores)
        best = _top(scores, limit)
        nearest = (vectors[best] @ pos_vectors.T).argmax(axis=1)
    return [
        (int(ids[i]), float(scores[i]), close_reason(near[int(n)]))
        for i, n in zip(best, nearest, strict=True)
    ]


def _top(scores: NDArray[np.float32], limit: int) -> NDArray[np.int64]:
    """The indexes of the ``limit`` best finite scores, best first (ties: lower index)."""
    finite = int(np.isfinite(scores).sum())
    k = min(limit, finite)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    order = np.lexsort((part, -scores[part]))
    return part[order][:k].astype(np.int64)


def _published_in(days: tuple[dt.date, dt.date]) -> ColumnElement[bool]:
    published = func.coalesce(Paper.published_at, Paper.created_at)
    first = dt.datetime.combine(days[0], dt.time())
    after = dt.datetime.combine(days[1] + dt.timedelta(days=1), dt.time())
    return and_(published >= first, published < after)


def _by_follows(
    session: Session,
    signals: Signals,
    days: tuple[dt.date, dt.date],
    limit: int,
    taken: set[int],
) -> Ranked:
    """Papers in the reader's categories or by their authors, most upvoted, then newest."""
    prefs = signals.prefs
    keys = {name_key(a): a for a in prefs.authors if name_key(a)}
    by_author = select(PaperName.paper_id).where(
        PaperName.kind == "author", PaperName.key.in_(list(keys))
    )
    text = cast(Paper.categories, String)
    matches = [text.like(f'%"{_escape(c)}"%', escape="\\") for c in prefs.categories]
    stmt = (
        select(Paper.id, Paper.categories, Paper.authors, UPVOTES)
        .where(_published_in(days), or_(Paper.id.in_(by_author), *matches))
        .order_by(UPVOTES.desc(), Paper.published_at.desc(), Paper.arxiv_id)
        .limit(limit + len(taken))
    )
    ranked: Ranked = []
    for paper_id, cats, authors, upvotes in session.execute(stmt):
        if paper_id in taken:
            continue
        followed = [c for c in prefs.categories if c in (cats or [])]
        if followed:
            reason = category_reason(followed[0])
        else:
            # the name as the paper writes it
            named = [a for a in authors or [] if name_key(a) in keys]
            reason = author_reason(named[0] if named else prefs.authors[0])
        ranked.append((int(paper_id), float(upvotes), reason))
        if len(ranked) == limit:
            break
    return ranked


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _by_trending(
    session: Session,
    settings: Settings,
    days: tuple[dt.date, dt.date],
    limit: int,
    taken: set[int],
) -> Ranked:
    """The range's papers by trending score (those featured on the daily lists), then the
    rest of the range's papers, most upvoted first."""
    featured = papers.period_trending_items(
        session,
        days[0],
        # a paper is featured on the days after its publication
        days[1] + dt.timedelta(days=1) + FEATURED_AFTER,
        half_life_hours=settings.trending_half_life_hours,
    )
    wanted = [i.arxiv_id for i in featured]
    rows = session.execute(
        select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(wanted), _published_in(days))
    )
    id_of = {str(arxiv_id): int(paper_id) for arxiv_id, paper_id in rows}
    ranked: Ranked = []
    for item in featured:
        paper_id = id_of.get(item.arxiv_id)
        if paper_id is not None and paper_id not in taken and len(ranked) < limit:
            ranked.append((paper_id, float(item.score or 0.0), TRENDING_REASON))
    if len(ranked) < limit:
        seen = taken | {pid for pid, _, _ in ranked}
        rest = (
            select(Paper.id, UPVOTES)
            .where(_published_in(days))
            .order_by(UPVOTES.desc(), Paper.published_at.desc(), Paper.arxiv_id)
            .limit(limit + len(seen))
        )
        for paper_id, upvotes in session.execute(rest):
            if paper_id not in seen and len(ranked) < limit:
                ranked.append((int(paper_id), float(upvotes), TRENDING_REASON))
    return ranked


def latest_day(db: Database, settings: Settings) -> dt.date | None:
    """The newest day of first publication among the papers that can be ranked by their
    embedding (in memory already), or, on a site without embeddings, among all papers; None
    on an empty site. The pages count "today" and "this week" back from it."""
    cands = candidates(db, settings)
    if len(cands):
        return dt.date.fromordinal(int(cands.days[-1]))
    with db.quick_read() as session:
        newest = session.scalar(
            select(func.max(func.coalesce(Paper.published_at, Paper.created_at)))
        )
    return newest.date() if newest else None


def record_impressions(
    db: Database, user_id: int, paper_ids: list[int], *, shown: set[int] | None = None
) -> None:
    """Record ``paper_ids`` as shown to the reader (first showing only), keeping the
    ``MAX_IMPRESSIONS`` newest. ``shown``: the papers the reader's impressions held a moment
    ago (``Signals.shown``), to skip looking them up again; what is recorded is decided in
    the write, as without it."""
    if shown is not None:
        fresh = [p for p in paper_ids if p not in shown]
    else:
        with db.quick_read() as session:
            fresh = _unrecorded(session, db.ops, user_id, paper_ids)
    if not fresh:
        return  # a repeated answer writes nothing (SQLite's one writer is not waited for)
    try:
        with db.write() as session:
            now = utcnow()
            new = _unrecorded(session, db.ops, user_id, paper_ids)
            session.add_all(
                ReaderImpression(user_id=user_id, paper_id=p, shown_at=now) for p in new
            )
            session.flush()
            _trim(session, user_id)
    except IntegrityError:  # a concurrent read recorded the same paper first
        pass


def _unrecorded(session: Session, ops: Ops, user_id: int, paper_ids: list[int]) -> list[int]:
    """``paper_ids`` not yet recorded as shown to the reader, in order, once each."""
    have = set(
        session.scalars(
            select(ReaderImpression.paper_id).where(
                ReaderImpression.user_id == user_id,
                ops.among(ReaderImpression.paper_id, paper_ids),
            )
        )
    )
    return [p for p in dict.fromkeys(paper_ids) if p not in have]


def _trim(session: Session, user_id: int) -> None:
    count = session.scalar(select(func.count()).where(ReaderImpression.user_id == user_id)) or 0
    if count <= MAX_IMPRESSIONS:
        return
    oldest = list(
        session.scalars(
            select(ReaderImpression.paper_id)
            .where(ReaderImpression.user_id == user_id)
            .order_by(ReaderImpression.shown_at, ReaderImpression.paper_id)
            .limit(count - MAX_IMPRESSIONS)
        )
    )
    session.execute(
        delete(ReaderImpression).where(
            ReaderImpression.user_id == user_id, ReaderImpression.paper_id.in_(oldest)
        )
    )
