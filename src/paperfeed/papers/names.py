"""Papers by a name: an author's papers, an organization's papers (newest first), and the
authors of papers verified by an approved authorship claim.

A name matches as ``text.name_key`` has it: exactly the name, whatever its case, accents
and spacing (``Kaiming He`` = ``kaiming  HE``; ``Émile`` = ``Emile``; ``He`` alone matches
only an author called just ``He``). The lookup reads ``paper_names``, which the store keeps
in step with the papers' authors and organizations (``store/names.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.papers.items import PAPER_COLUMNS, AnySelect, FeedItem, item_from_row
from paperfeed.store.models import AuthorshipClaim, Paper, PaperName, User
from paperfeed.text import name_key

Kind = Literal["author", "org"]
MAX_NAME_CHARS = 200  # a longer name in a URL names nobody


@dataclass(slots=True)
class NamedPapers:
    """A page of the papers of one name: the name as the newest paper writes it, how many
    papers it has in all, and this page of them."""

    name: str
    total: int
    items: list[FeedItem]


def papers_by_name(
    session: Session, kind: Kind, name: str, offset: int, limit: int
) -> NamedPapers | None:
    """The papers with the author (``kind="author"``) or organization (``"org"``) ``name``,
    newest publication first (then the higher arXiv id), ``limit`` from ``offset``; None
    when no paper has it."""
    key = name_key(name)
    if not key or len(name) > MAX_NAME_CHARS:
        return None
    ids = select(PaperName.paper_id).where(PaperName.kind == kind, PaperName.key == key)
    count = select(func.count(func.distinct(PaperName.paper_id))).where(
        PaperName.kind == kind, PaperName.key == key
    )
    total = session.scalar(count) or 0
    if not total:
        return None
    stmt = (
        select(*PAPER_COLUMNS)
        .where(Paper.id.in_(ids))
        .order_by(Paper.published_at.desc().nulls_last(), Paper.arxiv_id.desc())
        .offset(offset)
        .limit(limit)
    )
    items = [item_from_row(r) for r in session.execute(stmt)]
    shown = _display_name(session, kind, key, ids) or " ".join(name.split())
    return NamedPapers(shown, total, items)


def _display_name(session: Session, kind: Kind, key: str, ids: AnySelect) -> str | None:
    """The name as the newest paper that has it writes it."""
    row = session.execute(
        select(Paper.authors, Paper.organization)
        .where(Paper.id.in_(ids))
        .order_by(Paper.published_at.desc().nulls_last(), Paper.arxiv_id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    names = (row.authors or []) if kind == "author" else [row.organization or ""]
    return next((n for n in names if isinstance(n, str) and name_key(n) == key), None)


def verified_authors(session: Session, arxiv_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """For each paper of ``arxiv_ids`` that has any, its authors verified by an approved
    authorship claim: ``{arxiv_id: {author name: username}}``."""
    wanted = list(dict.fromkeys(arxiv_ids))
    if not wanted:
        return {}
    stmt = (
        select(Paper.arxiv_id, AuthorshipClaim.author_name, User.username)
        .join(AuthorshipClaim, AuthorshipClaim.paper_id == Paper.id)
        .join(User, User.id == AuthorshipClaim.user_id)
        .where(Paper.arxiv_id.in_(wanted), AuthorshipClaim.status == "approved")
        .where(User.is_banned.is_(False))
    )
    out: dict[str, dict[str, str]] = {}
    for arxiv_id, author, username in session.execute(stmt):
        out.setdefault(arxiv_id, {})[author] = username
    return out
