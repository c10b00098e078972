"""Text helpers shared by every layer that shows imported text (pages, feeds, mail).

Low in the stack on purpose: the digest renders the same snippets and links as the pages
without importing the web layer.
"""

from __future__ import annotations

import unicodedata

ABSTRACT_CHARS = 300  # an abstract's snippet on lists and in mail


def truncate(text: str | None, limit: int = ABSTRACT_CHARS) -> str:
    """At most ``limit`` characters, cut at a word boundary, with an ellipsis when cut."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.-")
    return cut + "…"


def safe_url(url: str | None) -> str:
    """The URL when it is http(s), else ``#`` (no ``javascript:`` links from imported data)."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return "#"


_FOLDED = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
    }
)


def fold(text: str) -> str:
    """``text`` with accents and ligatures dropped (``Müller`` → ``Muller``), as the search
    index stores words, so that a name typed without its accents finds it."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLDED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


NAME_KEY_CHARS = 255  # the longest matching key kept (the ``paper_names.key`` column)


def name_key(name: str) -> str:
    """How an author's or organization's name is matched: the same name whatever its case,
    accents or spacing (``Émile  Borel`` = ``emile borel``): accents and ligatures dropped
    (:func:`fold`), case folded, whitespace collapsed, at most ``NAME_KEY_CHARS`` characters."""
    if name.isascii():  # most names: casefold is lower, nothing to decompose (10x faster)
        return " ".join(name.lower().split())[:NAME_KEY_CHARS]
    return " ".join(fold(name).casefold().split())[:NAME_KEY_CHARS]
