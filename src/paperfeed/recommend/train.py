"""Each reader's model: which method ranks for them, the linear model learned from their
signals (``model.fit``), kept in ``reader_models`` with the fingerprint of the signals it
was learned from, and retrained when that changes.

- ``PAPERFEED_RECOMMEND_MIN_POSITIVES`` (5) or more positives with embeddings: ``linear``
  (two models: ``model.fit`` on the embeddings, ``sparse_model.fit_sparse`` on the term rows,
  the same positives against the same weighted negatives; ``fuse.py`` fuses them at ranking);
- fewer, but at least one: ``nearest`` (score: the best cosine to a positive);
- none, but followed categories or authors: ``follows``; nothing at all: ``trending``.

Cold-start methods keep no weights: they are computed from the reader's current signals
at each read. The web process retrains in the background (one daemon thread, a queue with
each reader at most once); the worker and ``paperfeed recommend rebuild`` retrain in turn.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.recommend.blas import one_thread
from paperfeed.recommend.candidates import Candidates, candidates
from paperfeed.recommend.gather import Positive, Signals, fingerprint, gather
from paperfeed.recommend.model import LinearModel, fit
from paperfeed.recommend.prefs import PrefsView
from paperfeed.recommend.sparse_model import Rows, SparseLinear, fit_sparse
from paperfeed.store.db import Database
from paperfeed.store.meta import get_meta, set_meta
from paperfeed.store.models import AuthorshipClaim, Collection, Upvote, utcnow
from paperfeed.store.reader_models import ReaderModel, ReaderPrefs, ReaderSignal

log = logging.getLogger(__name__)
METHODS = ("linear", "nearest", "follows", "trending")
TRENDING_REASON = "trending this week"
CURSOR_KEY = "recommend_refresh_cursor"
TERMS_C = 10.0  # the term model's C (benchmarks/RESULTS.md, bench2: tuned on dev)
# The term weights a reader's model keeps (the largest): all of them, one a column its
# ~1,200 training rows use (~96,000), were ~0.8 MB a reader (77 GB for 100,000 readers);
# these are 128 KB, and rank as well (benchmarks/RESULTS.md, "What ships"; 4,096 cost
# 0.002 nDCG@10).
TERMS_KEPT = 16384


def close_reason(positive: Positive) -> str:
    return f"close to “{positive.title}”, which you {positive.kind}"


def category_reason(category: str) -> str:
    return f"in {category}, which you follow"


def author_reason(author: str) -> str:
    return f"by {author}, whom you follow"


@dataclass(frozen=True, slots=True)
class StoredModel:
    method: str
    embedding_model: str | None
    linear: LinearModel | None
    positives: int
    negatives: int
    fingerprint: str
    trained_at: dt.datetime
    # the term model (``linear`` only; None in a model trained before it: ranked without it)
    terms: SparseLinear | None = None


@dataclass(frozen=True, slots=True)
class Fitted:
    method: str
    linear: LinearModel | None
    terms: SparseLinear | None
    negatives: int


def skip_before(settings: Settings, now: dt.datetime | None = None) -> dt.datetime:
    """Impressions older than this, not acted on, are seen and skipped."""
    return (now or utcnow()) - dt.timedelta(hours=settings.recommend_skip_after_hours)


def choose_method(embedded_positives: int, prefs: PrefsView, min_positives: int) -> str:
    if embedded_positives >= min_positives:
        return "linear"
    if embedded_positives > 0:
        return "nearest"
    return "follows" if prefs.follows else "trending"


def fit_reader(cands: Candidates, signals: Signals, settings: Settings) -> Fitted:
    """The method and, for ``linear``, both models learned from these signals."""
    pos_rows = cands.rows([p.paper_id for p in signals.positives])
    method = choose_method(len(pos_rows), signals.prefs, settings.recommend_min_positives)
    if method != "linear":
        return Fitted(method, None, None, len(signals.negatives))
    neg_ids = list(signals.negatives)
    neg_rows = cands.rows(neg_ids)
    neg_weights = [signals.negatives[int(cands.ids[r])] for r in neg_rows]
    # A positive is no background; a negative that is also drawn counts both ways (seen and
    # skipped says more than drawn at random).
    bg_rows = np.setdiff1d(cands.background(settings.recommend_background), pos_rows)
    rows = np.concatenate([neg_rows, bg_rows])
    weights = np.concatenate([np.asarray(neg_weights, np.float32), np.ones(len(bg_rows))])
    if len(rows) == 0:  # a corpus of nothing but the reader's positives
        return Fitted("nearest", None, None, 0)
    with one_thread():
        model = fit(cands.vectors[pos_rows], cands.vectors[rows], weights.astype(np.float32))
        words = fit_terms(cands.terms[pos_rows], cands.terms[rows], weights)
    return Fitted(method, model, words, len(rows))


def fit_terms(positives: Rows, negatives: Rows, weights: NDArray[np.floating]) -> SparseLinear:
    """The reader's term model as stored: fitted at ``TERMS_C``, its ``TERMS_KEPT`` largest
    weights kept."""
    return fit_sparse(positives, negatives, weights, c=TERMS_C).strongest(TERMS_KEPT)


def load_model(session: Session, user_id: int) -> StoredModel | None:
    """The reader's stored model (only ever this reader's row)."""
    row = session.get(ReaderModel, user_id)
    if row is None:
        return None
    linear = LinearModel.from_bytes(row.weights) if row.weights else None
    words = SparseLinear.from_bytes(row.term_weights) if row.term_weights else None
    return StoredModel(
        row.method,
        row.embedding_model,
        linear,
        row.positives,
        row.negatives,
        row.fingerprint,
        row.trained_at,
        words,
    )


def train(
    db: Database, settings: Settings, user_id: int, *, cands: Candidates | None = None
) -> StoredModel:
    """Learn the reader's model from their signals now and store it."""
    cands = cands or candidates(db, settings)
    before = skip_before(settings)
    with db.read() as session:
        signals = gather(session, user_id, skip_before=before)
        mark = fingerprint(session, user_id, skip_before=before, embedding_model=cands.model)
    got = fit_reader(cands, signals, settings)
    stored = StoredModel(
        got.method,
        cands.model,
        got.linear,
        len(signals.positives),
        got.negatives,
        mark,
        utcnow(),
        got.terms,
    )
    _save(db, user_id, stored)
    return stored


def _save(db: Database, user_id: int, stored: StoredModel) -> None:
    try:
        _write(db, user_id, stored)
    except IntegrityError:  # another process stored this reader's first model meanwhile
        _write(db, user_id, stored)


def _write(db: Database, user_id: int, stored: StoredModel) -> None:
    weights = stored.linear.to_bytes() if stored.linear is not None else None
    with db.write() as session:
        row = session.get(ReaderModel, user_id)
        if row is None:
            row = ReaderModel(user_id=user_id)
            session.add(row)
        row.method = stored.method
        row.embedding_model = stored.embedding_model
        row.weights = weights
        row.term_weights = stored.terms.to_bytes() if stored.terms is not None else None
        row.positives = stored.positives
        row.negatives = stored.negatives
        row.fingerprint = stored.fingerprint
        row.trained_at = stored.trained_at


def readers(session: Session) -> list[int]:
    """Every user with a signal, a setting or a model, in id order."""
    query = union(
        select(Upvote.user_id),
        select(Collection.user_id),
        select(AuthorshipClaim.user_id).where(AuthorshipClaim.status == "approved"),
        select(ReaderSignal.user_id),
        select(ReaderPrefs.user_id),
        select(ReaderModel.user_id),
    )
    return sorted(int(u) for u in session.scalars(select(query.subquery().c[0])))


def rebuild(db: Database, settings: Settings, user_id: int | None = None) -> int:
    """Retrain every reader's model (or one reader's) from the signals; how many."""
    cands = candidates(db, settings)
    if user_id is not None:
        train(db, settings, user_id, cands=cands)
        return 1
    with db.read() as session:
        everyone = readers(session)
    for reader in everyone:
        train(db, settings, reader, cands=cands)
    return len(everyone)


def is_stale(
    session: Session,
    settings: Settings,
    user_id: int,
    stored: StoredModel,
    model: str | None,
    prefs: PrefsView | None = None,
) -> bool:
    """``prefs``: the reader's settings when just read (saves reading them again)."""
    before = skip_before(settings)
    mark = fingerprint(session, user_id, skip_before=before, embedding_model=model, prefs=prefs)
    return mark != stored.fingerprint


def refresh_stale(db: Database, settings: Settings, limit: int) -> int:
    """Check the next ``limit`` stored models (in turn, from where the last call stopped)
    and retrain the stale ones of readers who have not paused; how many were retrained."""
    if limit <= 0:
        return 0
    cands = candidates(db, settings)
    cursor = int(get_meta(db, CURSOR_KEY) or 0)
    stale: list[int] = []
    with db.read() as session:
        batch = list(
            session.scalars(
                select(ReaderModel.user_id)
                .where(ReaderModel.user_id > cursor)
                .order_by(ReaderModel.user_id)
                .limit(limit)
            )
        )
        for user_id in batch:
            stored = load_model(session, user_id)
            paused = session.scalar(
                select(ReaderPrefs.paused).where(ReaderPrefs.user_id == user_id)
            )
            if (
                stored is not None
                and not paused
                and is_stale(session, settings, user_id, stored, cands.model)
            ):
                stale.append(user_id)
    for user_id in stale:
        train(db, settings, user_id, cands=cands)
    set_meta(db, CURSOR_KEY, str(batch[-1] if len(batch) == limit else 0))
    return len(stale)


class BackgroundTrainer:
    """One daemon thread that retrains the readers queued to it, each at most once in the
    queue, so that a read never waits for a retraining."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._queue: deque[int] = deque()
        self._queued: set[int] = set()
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, user_id: int) -> None:
        with self._cond:
            if user_id in self._queued:
                return
            self._queued.add(user_id)
            self._queue.append(user_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="pf-recommend-train", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                user_id = self._queue.popleft()
                self._queued.discard(user_id)
                self._busy += 1
            try:
                train(self.db, self.settings, user_id)
            except Exception:  # the next read queues the reader again
                log.exception("recommend: retraining reader %s failed", user_id)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the queue is empty and nothing trains (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)


_trainers: dict[str, BackgroundTrainer] = {}
_trainers_lock = threading.Lock()


def trainer_for(db: Database, settings: Settings) -> BackgroundTrainer:
    """This process's background trainer of ``db``."""
    with _trainers_lock:
        key = str(db.engine.url)
        trainer = _trainers.get(key)
        if trainer is None or trainer.db is not db:
            trainer = _trainers[key] = BackgroundTrainer(db, settings)
        return trainer
