"""The reader's own signals, written and listed: "not interested" (``dismissed``), seed papers
(``seed``), papers not to learn from (``ignored``), "delete all", and the signals page's view.

Each function changes only the reader's rows: the model's fingerprint (``recommend/gather.py``)
notices and the model is retrained in the background. A paper is named by its arXiv id in any
spelling of the strict grammar (``papers/ids.py``: versions, ``arXiv:``, arxiv.org URLs); one
that names no paper on this site is :class:`~paperfeed.recommend.PaperNotFound`. Seeding a
paper lifts its dismissal and its ignoring; dismissing it drops its seed (the last word wins).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.recommend import PaperNotFound, RecommendError
from paperfeed.recommend.feed_tokens import new_feed_token, revoke_feed_token, user_for_feed_token
from paperfeed.recommend.prefs import (
    PrefsView,
    follows_from_text,
    prefs_view,
    set_digest_for_you,
    set_follows,
    set_paused,
    upsert_prefs,
)
from paperfeed.recommend.seeds import MAX_SEEDS, parse_seed_text
from paperfeed.store.db import Database
from paperfeed.store.models import (
    AuthorshipClaim,
    Collection,
    CollectionItem,
    Paper,
    Upvote,
    utcnow,
)
from paperfeed.store.reader_models import ReaderImpression, ReaderModel, ReaderSignal

__all__ = [
    "PaperNotFound",
    "PrefsView",
    "RecommendError",
    "SignalPaper",
    "SignalsView",
    "add_seeds",
    "dismiss",
    "dismissed_by_reader",
    "dismissed_ids",
    "follows_from_text",
    "forget_all",
    "ignore",
    "new_feed_token",
    "parse_seed_text",
    "remove_seed",
    "revoke_feed_token",
    "set_digest_for_you",
    "set_follows",
    "set_paused",
    "signals_of",
    "undismiss",
    "user_for_feed_token",
]

SEED, DISMISSED, IGNORED = "seed", "dismissed", "ignored"
MAX_SEEDS_PER_READER = 2000
LISTED = 500  # papers of each kind the signals page lists (the newest)


def _paper_id(session: Session, arxiv_id: str) -> int:
    try:
        canonical = parse_arxiv_id(arxiv_id)[0]
    except ValueError:
        canonical = ""  # no paper has it
    found = session.scalar(select(Paper.id).where(Paper.arxiv_id == canonical))
    if found is None:
        raise PaperNotFound(f"No paper {str(arxiv_id)[:40]!r} on this site.")
    return found


def _put(session: Session, db: Database, user_id: int, paper_ids: Sequence[int], kind: str) -> None:
    if not paper_ids:
        return
    now = utcnow()
    rows = [{"user_id": user_id, "paper_id": p, "kind": kind, "created_at": now} for p in paper_ids]
    session.execute(db.ops.insert(ReaderSignal).values(rows).on_conflict_do_nothing())


def _drop(session: Session, user_id: int, paper_ids: Sequence[int], *kinds: str) -> None:
    if paper_ids:
        session.execute(
            delete(ReaderSignal).where(
                ReaderSignal.user_id == user_id,
                ReaderSignal.paper_id.in_(list(paper_ids)),
                ReaderSignal.kind.in_(kinds),
            )
        )


def dismiss(db: Database, user_id: int, arxiv_id: str) -> None:
    """Not interested: the paper is not recommended again and counts as a negative."""
    with db.write() as session:
        paper_id = _paper_id(session, arxiv_id)
        _drop(session, user_id, [paper_id], SEED)
        _put(session, db, user_id, [paper_id], DISMISSED)


def undismiss(db: Database, user_id: int, arxiv_id: str) -> None:
    """Undo "not interested" (nothing to do when the paper was not dismissed)."""
    with db.write() as session:
        _drop(session, user_id, [_paper_id(session, arxiv_id)], DISMISSED)


def remove_seed(db: Database, user_id: int, arxiv_id: str) -> None:
    with db.write() as session:
        _drop(session, user_id, [_paper_id(session, arxiv_id)], SEED)


def ignore(db: Database, user_id: int, arxiv_id: str, on: bool) -> None:
    """Whether an upvoted, saved, claimed or seeded paper is not learned from."""
    with db.write() as session:
        paper_id = _paper_id(session, arxiv_id)
        if on:
            _put(session, db, user_id, [paper_id], IGNORED)
        else:
            _drop(session, user_id, [paper_id], IGNORED)


def add_seeds(db: Database, user_id: int, arxiv_ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """Seed the reader's feed with papers: ``(seeded, not on this site)``, the first as
    canonical ids (those already seeded included), the second as given (a malformed id too).
    :class:`RecommendError` for more than :data:`~paperfeed.recommend.seeds.MAX_SEEDS` at a
    time, or past :data:`MAX_SEEDS_PER_READER` in all."""
    wanted: dict[str, str] = {}  # canonical → as given
    missing: list[str] = []
    for given in arxiv_ids:
        try:
            wanted.setdefault(parse_arxiv_id(given)[0], given)
        except ValueError:
            missing.append(given)
    if len(wanted) > MAX_SEEDS:
        raise RecommendError(f"At most {MAX_SEEDS} papers at a time.")
    with db.write() as session:
        known = _paper_ids(session, list(wanted))
        _check_room(session, user_id, list(known.values()))
        paper_ids = list(known.values())
        _drop(session, user_id, paper_ids, DISMISSED, IGNORED)
        _put(session, db, user_id, paper_ids, SEED)
    missing += [given for canonical, given in wanted.items() if canonical not in known]
    return [c for c in wanted if c in known], missing


def _paper_ids(session: Session, arxiv_ids: list[str]) -> dict[str, int]:
    """The store's ids of those of ``arxiv_ids`` (at most MAX_SEEDS) on this site."""
    stmt = select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(arxiv_ids))
    return {arxiv_id: paper_id for arxiv_id, paper_id in session.execute(stmt)}


def _check_room(session: Session, user_id: int, paper_ids: list[int]) -> None:
    """Refuse seeds that would take the reader past :data:`MAX_SEEDS_PER_READER`."""
    seeded = set(session.scalars(_own(user_id, SEED).with_only_columns(ReaderSignal.paper_id)))
    if len(seeded | set(paper_ids)) > MAX_SEEDS_PER_READER:
        raise RecommendError(
            f"At most {MAX_SEEDS_PER_READER} seed papers in all; remove some first."
        )


def forget_all(db: Database, user_id: int) -> None:
    """Delete all my signals: seeds, dismissals, ignored papers, what the feed showed and the
    learned model go; upvotes, collections and claims stay (they are the reader's own
    actions elsewhere on the site) but those made until now are no longer learned from.
    Followed categories and authors, pause, the digest switch and the feed token stay."""
    with db.write() as session:
        for table in (ReaderSignal, ReaderImpression, ReaderModel):
            session.execute(delete(table).where(table.user_id == user_id))
        upsert_prefs(session, db.ops, user_id, forget_before=utcnow())


# --- the signals page -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalPaper:
    arxiv_id: str
    title: str
    at: dt.datetime  # when given (the latest, for a paper in several collections)
    counted: bool  # learned from now (positives: not before forget_before, not ignored)


@dataclass(frozen=True, slots=True)
class SignalsView:
    """What the reader's signals page lists: the newest :data:`LISTED` papers of each kind,
    how many there are of each (``totals``), and the settings."""

    upvoted: list[SignalPaper]
    saved: list[SignalPaper]
    claimed: list[SignalPaper]  # approved claims only
    seeded: list[SignalPaper]
    dismissed: list[SignalPaper]  # counted: negatives
    ignored: list[SignalPaper]  # counted: never
    totals: dict[str, int]
    prefs: PrefsView


def _own(user_id: int, kind: str) -> Any:
    return select(ReaderSignal.paper_id, ReaderSignal.created_at.label("at")).where(
        ReaderSignal.user_id == user_id, ReaderSignal.kind == kind
    )


def _sources(user_id: int) -> dict[str, Any]:
    """Per kind, a SELECT of (paper_id, at), one row a paper."""
    claimed_at = func.max(func.coalesce(AuthorshipClaim.decided_at, AuthorshipClaim.created_at))
    return {
        "upvoted": select(Upvote.paper_id, Upvote.created_at.label("at")).where(
            Upvote.user_id == user_id
        ),
        "saved": select(CollectionItem.paper_id, func.max(CollectionItem.added_at).label("at"))
        .join(Collection, Collection.id == CollectionItem.collection_id)
        .where(Collection.user_id == user_id)
        .group_by(CollectionItem.paper_id),
        "claimed": select(AuthorshipClaim.paper_id, claimed_at.label("at"))
        .where(AuthorshipClaim.user_id == user_id, AuthorshipClaim.status == "approved")
        .group_by(AuthorshipClaim.paper_id),
        "seeded": _own(user_id, SEED),
        "dismissed": _own(user_id, DISMISSED),
        "ignored": _own(user_id, IGNORED),
    }


def _listed(session: Session, source: Any, limit: int) -> list[tuple[str, str, dt.datetime]]:
    rows = source.subquery()
    stmt = (
        select(Paper.arxiv_id, Paper.title, rows.c.at)
        .join(rows, rows.c.paper_id == Paper.id)
        .order_by(rows.c.at.desc(), Paper.id.desc())
        .limit(limit)
    )
    return [(a, t, at) for a, t, at in session.execute(stmt)]


def signals_of(db: Database, user_id: int, limit: int = LISTED) -> SignalsView:
    """Everything the reader's signals page lists (their own rows only)."""
    with db.read() as session:
        prefs = prefs_view(session, user_id)
        sources = _sources(user_id)
        ignored = sources["ignored"].with_only_columns(ReaderSignal.paper_id)
        ignored_ids = set(session.scalars(select(Paper.arxiv_id).where(Paper.id.in_(ignored))))
        totals = {
            kind: session.scalar(select(func.count()).select_from(source.subquery())) or 0
            for kind, source in sources.items()
        }
        listed = {kind: _listed(session, source, limit) for kind, source in sources.items()}

    def counted(kind: str, arxiv_id: str, at: dt.datetime) -> bool:
        if kind in (DISMISSED, IGNORED):
            return kind == DISMISSED
        after = prefs.forget_before is None or at >= prefs.forget_before
        return after and arxiv_id not in ignored_ids

    def papers(kind: str) -> list[SignalPaper]:
        return [SignalPaper(a, t, at, counted(kind, a, at)) for a, t, at in listed[kind]]

    return SignalsView(
        upvoted=papers("upvoted"),
        saved=papers("saved"),
        claimed=papers("claimed"),
        seeded=papers("seeded"),
        dismissed=papers(DISMISSED),
        ignored=papers(IGNORED),
        totals=totals,
        prefs=prefs,
    )


def dismissed_by_reader(session: Session, user_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """user id → the papers (ids) that reader marked "not interested", for those of
    ``user_ids`` with any (the digest keeps them out of every part of a reader's mail)."""
    wanted = sorted(set(user_ids))
    out: dict[int, set[int]] = {}
    for i in range(0, len(wanted), 500):
        rows = session.execute(
            select(ReaderSignal.user_id, ReaderSignal.paper_id).where(
                ReaderSignal.kind == DISMISSED, ReaderSignal.user_id.in_(wanted[i : i + 500])
            )
        )
        for user_id, paper_id in rows:
            out.setdefault(int(user_id), set()).add(int(paper_id))
    return {u: frozenset(p) for u, p in out.items()}


def dismissed_ids(session: Session, user_id: int, arxiv_ids: Sequence[str]) -> set[str]:
    """Those of ``arxiv_ids`` the reader marked "not interested" (the pages' buttons)."""
    if not arxiv_ids:
        return set()
    stmt = (
        select(Paper.arxiv_id)
        .join(ReaderSignal, ReaderSignal.paper_id == Paper.id)
        .where(
            ReaderSignal.user_id == user_id,
            ReaderSignal.kind == DISMISSED,
            Paper.arxiv_id.in_(list(arxiv_ids)),
        )
    )
    return set(session.scalars(stmt))
