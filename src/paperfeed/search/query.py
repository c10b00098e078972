"""The search query language, parsed into a :class:`ParsedQuery`.

Grammar (whitespace separated; everything is case-insensitive):

- plain words: ``diffusion transformers``;
- ``"quoted phrases"``: the words must appear next to each other (an unbalanced quote is
  read as if it were closed at the end of the query);
- ``author:NAME`` / ``author:"First Last"``: papers with an author of that name;
- ``cat:cs.CL`` / ``category:cs.CL``: papers in that category; ``cat:cs`` is the archive;
- ``year:2024``, ``year:2023..2025`` (also ``2023-2025``), ``date:2024-03..2024-06-15``,
  ``after:2024-06``, ``before:2025`` (open ranges: ``year:2024..``): publication date;
- ``has:code``: papers with a code repository;
- an arXiv id or an arxiv.org URL as the whole query (``2401.01234``, ``arXiv:2401.01234v2``,
  ``https://arxiv.org/abs/2401.01234``) goes straight to that paper; an id-like word inside
  a longer query is remembered as ``id_hint`` ("did you mean the paper with id …").

The parser never fails on text: control characters, the search engine's own syntax
characters and overlong input are dropped or cut. Only a filter with a malformed value
(``year:soon``) raises :class:`QueryError`, which the web layer answers with a 400.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from paperfeed.papers.ids import id_hint, parse_arxiv_id
from paperfeed.params import MAX_YEAR, MIN_YEAR
from paperfeed.text import fold

MAX_QUERY_CHARS = 1000
MAX_TERMS = 32
MAX_PHRASES = 8
MAX_FILTER_VALUES = 8

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
# Words as the keyword index tokenises them: runs of letters and digits.
_WORD = re.compile(r"[^\W_]+")
_FILTER = re.compile(
    r"(?P<key>author|cat|category|year|date|after|before|since|until|has):"
    r'(?:"(?P<quoted>[^"]*)"?|(?P<bare>\S*))',
    re.IGNORECASE,
)
_PHRASE = re.compile(r'"([^"]*)"?')
_CATEGORY = re.compile(r"^[a-z][a-z-]*(?:\.[a-z-]+)?$")
# ASCII digits only (params.py says why).
_YEAR_RANGE = re.compile(r"(?:([0-9]{4})?(?:\.\.|-|–)([0-9]{4})?)|([0-9]{4})")
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{1,2})(?:-([0-9]{1,2}))?)?")


# Words too common to tell papers apart. Dropped from plain words (not from phrases) unless
# nothing else is left: "the attention of transformers" searches attention and transformers.
# Besides quality, it keeps long natural-language queries fast: each of these words matches
# almost every abstract.
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "paper",
        "papers",
        "study",
        "approach",
        "method",
        "methods",
        "propose",
        "proposed",
        "using",
        "based",
        "via",
        "new",
        "novel",
        "show",
        "shows",
    ]
)


class QueryError(ValueError):
    """A filter with a value that cannot mean anything (``year:soon``)."""


@dataclass(slots=True)
class ParsedQuery:
    text: str  # the query as typed, cleaned (no control characters, at most MAX_QUERY_CHARS)
    terms: list[str] = field(default_factory=list)  # lower-cased words outside phrases
    phrases: list[list[str]] = field(default_factory=list)  # each a list of lower-cased words
    authors: list[list[str]] = field(default_factory=list)  # each name as lower-cased words
    categories: list[str] = field(default_factory=list)  # lower-cased, any of them matches
    date_from: dt.date | None = None  # inclusive
    date_to: dt.date | None = None  # exclusive
    has_code: bool = False
    arxiv_id: str | None = None  # the whole query is this paper's id (no version)
    id_hint: str | None = None  # an id-like word inside a longer query
    free_text: str = ""  # the query without its filters and quote marks, as typed

    @property
    def words(self) -> list[str]:
        """Every word that can match text: plain words and the words of phrases."""
        return [*self.terms, *(w for p in self.phrases for w in p)]

    @property
    def semantic_text(self) -> str:
        """What the embedder reads: the query as typed without its filters (common words
        kept: the model reads sentences), or its words when nothing else is left."""
        return self.free_text if self.words else ""

    @property
    def has_filters(self) -> bool:
        return bool(
            self.authors or self.categories or self.date_from or self.date_to or self.has_code
        )

    @property
    def has_constraints(self) -> bool:
        """Filters or phrases: conditions every result must meet."""
        return self.has_filters or bool(self.phrases)

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.has_filters or self.arxiv_id)


def clean(text: str) -> str:
    """Control and invisible characters become spaces; at most MAX_QUERY_CHARS are kept."""
    return " ".join(_CONTROL.sub(" ", text[: MAX_QUERY_CHARS * 4]).split())[:MAX_QUERY_CHARS]


def words_of(text: str) -> list[str]:
    """The words of ``text`` as the keyword index holds them: lower-cased, accents dropped."""
    return [w.lower() for w in _WORD.findall(fold(text))]


def parse_query(raw: str) -> ParsedQuery:
    text = clean(raw)
    parsed = ParsedQuery(text=text)
    if not text:
        return parsed
    whole = text.strip()
    if " " not in whole:
        try:
            parsed.arxiv_id = parse_arxiv_id(whole)[0]
            return parsed
        except ValueError:
            pass

    rest = _FILTER.sub(lambda m: _take_filter(parsed, m), text)
    for m in _PHRASE.finditer(rest):
        words = words_of(m.group(1))
        if len(words) > 1 and len(parsed.phrases) < MAX_PHRASES:
            parsed.phrases.append(words)
        else:
            parsed.terms.extend(words)
    parsed.free_text = " ".join(rest.replace('"', " ").split())[:MAX_QUERY_CHARS]
    outside = _PHRASE.sub(" ", rest)
    for token in outside.split():
        if parsed.id_hint is None:
            parsed.id_hint = id_hint(token)
    parsed.terms.extend(words_of(outside))
    terms = _dedupe(parsed.terms)
    content = [t for t in terms if t not in STOPWORDS]
    parsed.terms = (content or terms)[:MAX_TERMS]
    if parsed.date_from and parsed.date_to and parsed.date_from >= parsed.date_to:
        raise QueryError("the date range is empty: its start is not before its end")
    return parsed


def _dedupe(words: list[str]) -> list[str]:
    return list(dict.fromkeys(words))


def _take_filter(parsed: ParsedQuery, m: re.Match[str]) -> str:
    key = m.group("key").lower()
    value = (m.group("quoted") if m.group("quoted") is not None else m.group("bare")).strip()
    if not value:
        return " "  # ``author:`` alone: nothing to filter on
    if key == "author":
        name = words_of(value)
        if name and len(parsed.authors) < MAX_FILTER_VALUES:
            parsed.authors.append(name)
    elif key in ("cat", "category"):
        _take_categories(parsed, value)
    elif key == "has":
        if value.lower() != "code":
            raise QueryError(f"has: knows only has:code, got {value[:40]!r}")
        parsed.has_code = True
    else:
        _narrow(parsed, *_date_filter(key, value))
    return " "


def _take_categories(parsed: ParsedQuery, value: str) -> None:
    for cat in value.lower().split(","):
        if not _CATEGORY.fullmatch(cat):
            raise QueryError(f"category must look like cs.CL or cs, got {cat[:40]!r}")
        if len(parsed.categories) < MAX_FILTER_VALUES:
            parsed.categories.append(cat)


def _date_filter(key: str, value: str) -> tuple[dt.date | None, dt.date | None]:
    """The [start, end) of a year/date/after/since/before/until filter (None: open)."""
    if key == "year":
        return _year_range(value)
    if key == "date":
        if ".." in value:
            lo, hi = value.split("..", 1)
            return _date(lo)[0] if lo else None, _date(hi)[1] if hi else None
        return _date(value)
    start, end = _date(value)
    if key in ("after", "since"):
        return start if key == "since" else end, None
    return None, start if key == "before" else end  # before, until


def _narrow(parsed: ParsedQuery, start: dt.date | None, end: dt.date | None) -> None:
    if start and (parsed.date_from is None or start > parsed.date_from):
        parsed.date_from = start
    if end and (parsed.date_to is None or end < parsed.date_to):
        parsed.date_to = end


def _year(text: str) -> int:
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise QueryError(f"year out of range: {text}")
    return year


def _year_range(value: str) -> tuple[dt.date | None, dt.date | None]:
    m = _YEAR_RANGE.fullmatch(value)
    if m and m.group(3):
        year = _year(m.group(3))
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    if not m or not (m.group(1) or m.group(2)):
        raise QueryError(f"year must be YYYY or YYYY..YYYY, got {value[:40]!r}")
    start = dt.date(_year(m.group(1)), 1, 1) if m.group(1) else None
    end = dt.date(_year(m.group(2)) + 1, 1, 1) if m.group(2) else None
    return start, end


def _date(value: str) -> tuple[dt.date, dt.date]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` → [first day, day after the last)."""
    m = _DATE.fullmatch(value)
    if not m:
        raise QueryError(f"date must be YYYY, YYYY-MM or YYYY-MM-DD, got {value[:40]!r}")
    year = _year(m.group(1))
    try:
        if m.group(3):
            day = dt.date(year, int(m.group(2)), int(m.group(3)))
            return day, day + dt.timedelta(days=1)
        if m.group(2):
            month = int(m.group(2))
            start = dt.date(year, month, 1)
            return start, dt.date(year + month // 12, month % 12 + 1, 1)
    except ValueError as exc:
        raise QueryError(f"no such date: {value[:40]!r}") from exc
    return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
