"""A paper's BibTeX entry (``/papers/{id}.bib`` and the paper page's citation box).

The entry is ``@misc`` in the form arXiv and Google Scholar give for preprints (``eprint``,
``archivePrefix``, ``primaryClass``), with the DOI and the journal reference (as ``note``)
when known. Text fields have BibTeX's special characters escaped, so an imported title
cannot unbalance the braces or start a command; the title is double-braced to keep its
capitals.
"""

from __future__ import annotations

import re
import unicodedata

from paperfeed.papers.items import FeedItem

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile(r"[\\{}&%$#_~^]")
_STOP_WORDS = frozenset({"a", "an", "the", "on", "of", "for", "in", "to", "and", "with", "towards"})


def bib_text(text: str) -> str:
    """``text`` on one line with BibTeX's special characters escaped."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], " ".join(text.split()))


def _ascii_word(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def cite_key(item: FeedItem) -> str:
    """``lastname2025firstword`` (as Google Scholar makes them); the arXiv id when the
    parts are missing."""
    last = (
        _ascii_word(item.authors[0].split()[-1]) if item.authors and item.authors[0].split() else ""
    )
    year = str(item.published_at.year) if item.published_at else ""
    words = [_ascii_word(w) for w in item.title.split()]
    first = next((w for w in words if w and w not in _STOP_WORDS), "")
    key = f"{last}{year}{first}"
    return key if last and first else "arxiv" + re.sub(r"[^0-9A-Za-z]", "", item.arxiv_id)


def bibtex(item: FeedItem) -> str:
    """The paper's BibTeX entry, ending in a newline."""
    fields = [
        ("title", "{" + bib_text(item.title) + "}"),
        ("author", " and ".join(bib_text(a) for a in item.authors if a.strip())),
        ("year", str(item.published_at.year) if item.published_at else ""),
        ("eprint", item.arxiv_id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", bib_text(item.primary_category or "")),
        ("doi", bib_text(item.doi or "")),
        ("note", bib_text(item.journal_ref or "")),
        ("url", item.arxiv_url),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{cite_key(item)},\n{body}\n}}\n"
