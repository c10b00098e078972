"""Author names as a query may type them: variants for the index, and matching on the page.

A name is matched as a phrase of its words, accents typed or not, hyphens as spaces, in any of
these forms (for "Jean-Luc Martínez Ortega"): the whole name (``jean luc martinez ortega``),
first and last word (``jean ortega``), initial and last word (``j ortega``), and last word
first (``ortega jean``). The keyword index holds the variants of every author in a field of
their own (``names``, one value per variant, so a phrase never runs from one author into the
next); a query's adjacent word pairs are looked up there and a paper with such an author
ranks above one that only has the words somewhere (``keyword_query.AUTHOR_BOOST``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paperfeed.text import fold

__all__ = ["matched_authors", "name_variants", "name_words"]


def name_words(name: str) -> list[str]:
    """The lower-cased words of a name, accents dropped, hyphens and dots as spaces."""
    return "".join(c if c.isalnum() else " " for c in fold(name).lower()).split()


def name_variants(name: str) -> list[list[str]]:
    """The forms of ``name`` a query may use (each a list of words, at least two)."""
    words = name_words(name)
    if len(words) < 2:
        return [words] if words else []
    first, last = words[0], words[-1]
    forms = [words, [first, last], [first[0], last], [last, first]]
    out: list[list[str]] = []
    for form in forms:
        if form not in out:
            out.append(form)
    return out


def _contains(words: Sequence[str], part: Sequence[str]) -> bool:
    n = len(part)
    return any(list(words[i : i + n]) == list(part) for i in range(len(words) - n + 1))


def matched_authors(query_words: Sequence[str], authors: Iterable[str]) -> list[str]:
    """The authors (as given) whose name the query's words contain as a phrase, in any of
    its variants of two words or more."""
    words = [w for w in (fold(w).lower() for w in query_words) if w]
    if len(words) < 2:
        return []
    return [
        name
        for name in authors
        if any(len(form) > 1 and _contains(words, form) for form in name_variants(name))
    ]
