"""A reader's settings for the personal feed (``reader_prefs``): paused learning, followed
categories and authors, the digest's "For you" section, the private feed's token hash and
``forget_before``. The row is made on the first change (an upsert); a reader without one has
the defaults. Each setter changes nothing else: the model's fingerprint notices."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.papers.categories import validate_category
from paperfeed.recommend import RecommendError
from paperfeed.store.db import Database
from paperfeed.store.dialect import Ops
from paperfeed.store.models import Paper, utcnow
from paperfeed.store.reader_models import ReaderPrefs
from paperfeed.text import NAME_KEY_CHARS, name_key

MAX_FOLLOWS = 50  # categories, and authors, each
MAX_CATEGORY_CHARS = 32  # the longest category the store keeps (papers.primary_category)


@dataclass(frozen=True, slots=True)
class PrefsView:
    paused: bool = False
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    digest_for_you: bool = True
    has_feed_token: bool = False
    forget_before: dt.datetime | None = None

    @property
    def follows(self) -> bool:
        return bool(self.categories or self.authors)


def prefs_view(session: Session, user_id: int) -> PrefsView:
    row = session.get(ReaderPrefs, user_id)
    if row is None:
        return PrefsView()
    return PrefsView(
        paused=bool(row.paused),
        categories=tuple(c for c in row.categories or () if isinstance(c, str)),
        authors=tuple(a for a in row.authors or () if isinstance(a, str)),
        digest_for_you=bool(row.digest_for_you),
        has_feed_token=row.feed_token_hash is not None,
        forget_before=row.forget_before,
    )


def upsert_prefs(session: Session, ops: Ops, user_id: int, **values: Any) -> None:
    """Set ``values`` on the reader's row, making it (with the defaults) when there is none."""
    now = utcnow()
    defaults: dict[str, Any] = {
        "paused": False,
        "categories": [],
        "authors": [],
        "digest_for_you": True,
        "updated_at": now,
    }
    stmt = ops.insert(ReaderPrefs).values({"user_id": user_id, **defaults, **values})
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ReaderPrefs.user_id], set_={**values, "updated_at": now}
        )
    )


def set_paused(db: Database, user_id: int, paused: bool) -> None:
    """Pause learning (the last model keeps ranking) or resume it."""
    with db.write() as session:
        upsert_prefs(session, db.ops, user_id, paused=bool(paused))


def set_digest_for_you(db: Database, user_id: int, on: bool) -> None:
    """Whether the reader's digest has a "For you" section (on by default)."""
    with db.write() as session:
        upsert_prefs(session, db.ops, user_id, digest_for_you=bool(on))


# The follows form's grammar: categories apart by spaces, commas or semicolons; authors one a
# line or apart by semicolons (a name may hold spaces and commas: "He, Kaiming").
_CATEGORY_SPLIT = re.compile(r"[\s,;]+")
_AUTHOR_SPLIT = re.compile(r"[\n;]+")


def follows_from_text(categories: str, authors: str) -> tuple[list[str], list[str]]:
    """The two text fields of a follows form as the lists :func:`set_follows` takes."""
    cats = [c for c in _CATEGORY_SPLIT.split(categories) if c]
    names = [a.strip() for a in _AUTHOR_SPLIT.split(authors) if a.strip()]
    return cats, names


def set_follows(
    db: Database, user_id: int, categories: Iterable[str], authors: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Replace the categories and authors the reader follows; returns them as stored.
    Categories are checked by the arXiv grammar and spelled as this site's papers spell them
    (``cs.cl`` → ``cs.CL``); author names are trimmed, each name once (case, accents and
    spacing aside). :class:`RecommendError` on a bad category, a name too long, or more than
    :data:`MAX_FOLLOWS` of either."""
    cats = _checked_categories(categories)
    names = _checked_authors(authors)
    with db.write() as session:
        cats = _site_spelling(session, cats)
        upsert_prefs(session, db.ops, user_id, categories=cats, authors=names)
    return cats, names


def _checked_categories(categories: Iterable[str]) -> list[str]:
    kept: dict[str, str] = {}  # lower-cased → as given
    for raw in categories:
        archive, dot, subject = raw.strip().partition(".")
        category = archive.lower() + dot + subject  # archives are lower case: CS.CL is cs.CL
        if not category:
            continue
        try:
            if len(category) > MAX_CATEGORY_CHARS:
                raise ValueError(category)
            validate_category(category)
        except ValueError:
            raise RecommendError(
                f"{category[:40]!r} is not an arXiv category (e.g. cs.CL, hep-th, math.AG)."
            ) from None
        kept.setdefault(category.lower(), category)
    if len(kept) > MAX_FOLLOWS:
        raise RecommendError(f"Follow at most {MAX_FOLLOWS} categories.")
    return list(kept.values())


def _checked_authors(authors: Iterable[str]) -> list[str]:
    kept: dict[str, str] = {}  # name_key → as given, whitespace collapsed
    for raw in authors:
        name = " ".join("".join(c if c.isprintable() else " " for c in raw).split())
        if not name:
            continue
        if len(name) > NAME_KEY_CHARS:
            raise RecommendError(f"An author's name has at most {NAME_KEY_CHARS} characters.")
        kept.setdefault(name_key(name), name)
    if len(kept) > MAX_FOLLOWS:
        raise RecommendError(f"Follow at most {MAX_FOLLOWS} authors.")
    return list(kept.values())


def _site_spelling(session: Session, categories: list[str]) -> list[str]:
    """Each category as the papers on this site spell it when one does, else as given."""
    if not categories:
        return []
    lowered = sorted({c.lower() for c in categories})
    known = session.scalars(
        select(Paper.primary_category)
        .where(func.lower(Paper.primary_category).in_(lowered))
        .distinct()
    )
    spelled = {k.lower(): k for k in known if k is not None}
    return list(dict.fromkeys(spelled.get(c.lower(), c) for c in categories))
