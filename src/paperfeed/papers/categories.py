"""arXiv categories: their grammar, and papers whose categories are not known yet.

:func:`validate_category` is the one check of what an arXiv category looks like (``cs.CL``,
``hep-th``, ``astro-ph.CO``, ``cond-mat.stat-mech``), for the arXiv API's queries and the
categories a reader follows.

Hugging Face's Daily Papers listings carry no arXiv categories; until the metadata fill
(``sources/metadata_fill.py``, run by the worker and ``paperfeed papers fill-metadata``) has
asked arXiv, such a paper matches no ``cat:`` search and no category topic. The pages say so
instead of "no papers match" (:func:`count_unknown_categories`).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from paperfeed.store.models import Paper

# The forms an empty JSON list column takes: SQL NULL, JSON null, or an empty array (written
# by json.dumps and orjson alike as "[]", which both databases give back as written).
_EMPTY_JSON = ("[]", "null")
_CATEGORY = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[a-z]+)?)?")


def validate_category(category: str) -> str:
    """``category`` when it has the shape of an arXiv category; ``ValueError`` otherwise."""
    if not _CATEGORY.fullmatch(category or ""):
        raise ValueError(f"not an arXiv category: {category!r} (expected e.g. cs.CL, hep-th)")
    return category


def categories_unknown() -> ColumnElement[bool]:
    """The SQL condition of a paper with no category and no primary category."""
    return and_(
        Paper.primary_category.is_(None),
        or_(Paper.categories.is_(None), cast(Paper.categories, Text).in_(_EMPTY_JSON)),
    )


def count_unknown_categories(session: Session) -> int:
    """How many papers have no arXiv categories yet."""
    stmt = select(func.count()).select_from(Paper).where(categories_unknown())
    return session.scalar(stmt) or 0
