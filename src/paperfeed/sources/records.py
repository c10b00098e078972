"""The normalised record every reader produces, and the helpers that normalise fields.

A reader turns one line of some format into a :class:`PaperRecord` (or a
:class:`RecordError` saying why it cannot); the pipeline merges records into the store.
Every datetime is naive UTC, every string is stripped, titles/abstracts have their
whitespace collapsed.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.params import is_unicode, is_whole_number

# Column sizes of the store (PostgreSQL enforces them).
MAX_ARXIV_ID = 32
MAX_CATEGORY = 32
MAX_SHORT = 255
MAX_SUBMITTED_BY = 64
MAX_GITHUB = 512
MAX_PROJECT_PAGE = 1024
MAX_MEDIA_URLS = 8  # media links kept per paper (a listing's ``mediaUrls``)
MAX_SOURCE = 16
# Integer columns are 32-bit on PostgreSQL (SQLite would take 64): the smaller bound for both.
MAX_INT = 2**31 - 1
# A date cannot be before arXiv existed, nor later than today plus a margin for time zones and
# clock skew (a far-future daily_date would become the home page's day for ever).
EARLIEST_DAY = dt.date(1991, 1, 1)
FUTURE_MARGIN = dt.timedelta(days=2)


class RecordError(ValueError):
    """A record that cannot be used; the message is the reason shown to the user."""


@dataclass(slots=True)
class DailyInfo:
    """The paper was featured on a daily list."""

    day: dt.date
    submitted_at: dt.datetime | None = None
    submitted_by: str | None = None
    source: str = "import"


@dataclass(slots=True)
class PaperRecord:
    """One paper as a source describes it. ``None``/empty means "the source does not say"."""

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    submitter: str | None = None
    # Community fields (Hugging Face Daily Papers).
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    media_urls: list[str] | None = None
    organization: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    daily: DailyInfo | None = None


@dataclass(slots=True)
class ReadItem:
    """What a reader yields: where it came from, and a record or the reason there is none."""

    source: str
    line: int
    record: PaperRecord | None = None
    error: str | None = None

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"


# --------------------------------------------------------------------------- text


def show(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for messages about values of any
    size (the message is one line on stderr, not a copy of the record)."""
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    try:
        text = repr(value)
    except ValueError:  # an int of more digits than Python will print
        text = f"<{type(value).__name__}>"
    return text[:limit] + ("…" if len(text) > limit else "")


_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*|\n[ \t]{2,}")


def clean_str(value: Any, limit: int | None = None) -> str | None:
    """A stripped string, or None when empty/absent; NULs removed; cut to ``limit``."""
    if value is None:
        return None
    text: str
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "")
    text = text.strip()
    if not text:
        return None
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip()
    return text


def collapse(value: Any) -> str:
    """All runs of whitespace to one space (titles, names)."""
    if type(value) is str and "\x00" not in value:
        return " ".join(value.split())
    text = clean_str(value)
    if text is None:
        return ""
    return " ".join(text.split())


def clean_abstract(value: Any) -> str:
    """Hard line breaks joined, paragraphs (blank line or indented line) kept as ``\\n\\n``."""
    text = clean_str(value)
    if text is None:
        return ""
    if "\n" not in text and "  " not in text and "\t" not in text and "\r" not in text:
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = (" ".join(p.split()) for p in _PARAGRAPH.split(text))
    return "\n\n".join(p for p in parts if p)


def clean_url(value: Any, limit: int) -> str | None:
    text = clean_str(value)
    if text is None or len(text) > limit or any(c.isspace() for c in text):
        return None
    if not text.lower().startswith(("http://", "https://")):
        return None
    return text


def parse_media_urls(value: Any) -> list[str] | None:
    """A listing's media links: the http(s) URLs among them (a single string counts as one),
    each at most ``MAX_PROJECT_PAGE`` characters, at most ``MAX_MEDIA_URLS``; None if none."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple):
        return None
    urls = [u for u in (clean_url(v, MAX_PROJECT_PAGE) for v in values) if u]
    return list(dict.fromkeys(urls))[:MAX_MEDIA_URLS] or None


# --------------------------------------------------------------------------- dates


def parse_datetime(value: Any) -> dt.datetime | None:
    """Naive UTC datetime from the date formats sources use; RecordError when unreadable.

    ``2025-05-10 22:42:29 UTC``, ISO 8601 with ``Z`` or an offset (``2024-03-11T11:46:12.000Z``),
    a plain date ``2025-03-18`` (midnight UTC), RFC 2822 ``Mon, 2 Apr 2007 19:18:42 GMT``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        result = _parse_date_text(value.strip())
    else:
        raise RecordError(f"bad date {show(value)}")
    if result.tzinfo is not None:
        try:
            result = result.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 or 9999 shifted past the calendar's ends
            raise RecordError(f"bad date {show(value)} (out of range)") from None
    check_day(result.date(), value)
    return result


def latest_day() -> dt.date:
    return dt.datetime.now(dt.UTC).date() + FUTURE_MARGIN


def check_day(day: dt.date, value: Any) -> dt.date:
    """``day`` when it can be real (arXiv's start .. today + margin), else RecordError."""
    if not EARLIEST_DAY <= day <= latest_day():
        raise RecordError(f"bad date {show(value)} (not between {EARLIEST_DAY} and {latest_day()})")
    return day


def _parse_date_text(text: str) -> dt.datetime:
    if not text:
        raise RecordError("bad date ''")
    iso = text
    if iso.endswith((" UTC", " GMT")):
        iso = iso[:-4].rstrip()
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    if iso and iso[0].isdigit():
        try:
            return dt.datetime.fromisoformat(iso)
        except ValueError:
            pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise RecordError(f"bad date {show(text)}") from None


def parse_day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return check_day(value.date(), value)
    if isinstance(value, dt.date):
        return check_day(value, value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                raise RecordError(f"bad date {show(value)}") from None
            return check_day(day, value)
    parsed = parse_datetime(value)
    if parsed is None:
        raise RecordError("missing date")
    return parsed.date()


# --------------------------------------------------------------------------- lists


def parse_authors(value: Any) -> list[str]:
    """Authors from a list of strings, a list of ``{name}`` objects, or one string.

    A string may be ``"A, B and C"``, ``"A and B"``, or a JSON/Python list literal.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return _authors_from_text(value.strip())
    if isinstance(value, list | tuple):
        return [name for name in (_author_name(item) for item in value) if name]
    raise RecordError(f"bad authors field (type {type(value).__name__})")


def _authors_from_text(text: str) -> list[str]:
    if not text:
        return []
    if text[0] == "[" and text[-1] == "]":
        try:
            literal = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            literal = None
        if isinstance(literal, list):
            return parse_authors(literal)
    pieces = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*;\s*", text)
    return [n for n in (collapse(p) for p in pieces) if n]


def _author_name(item: Any) -> str:
    """One author of a list: a string, a ``{name}`` object or ``[last, first, suffix]``."""
    if isinstance(item, str):
        return collapse(item)
    if isinstance(item, dict):
        return collapse(item.get("name") or item.get("fullname"))
    if isinstance(item, list | tuple) and item:
        return author_from_parsed(item)  # authors_parsed style: [last, first, suffix]
    return ""


def author_from_parsed(item: list[Any] | tuple[Any, ...]) -> str:
    """``[last, first, suffix]`` (arXiv's authors_parsed) to ``"First Last Suffix"``."""
    last = item[0] if len(item) > 0 else ""
    first = item[1] if len(item) > 1 else ""
    suffix = item[2] if len(item) > 2 else ""
    return collapse(" ".join(str(p) for p in (first, last, suffix) if p))


def parse_categories(value: Any) -> list[str]:
    if value is None:
        return []
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.replace(",", " ").split()
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise RecordError(f"bad categories field (type {type(value).__name__})")
    seen: list[str] = []
    for item in items:
        cat = clean_str(item)
        if cat and len(cat) <= MAX_CATEGORY and cat not in seen:
            seen.append(cat)
    return seen


def parse_keywords(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in value.split(",")]
    if not isinstance(value, list | tuple):
        return None
    words = [w for w in (clean_str(v) for v in value) if w]
    return words or None


def parse_version(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"bad version {show(value)}")
    if isinstance(value, int):
        version = value
    elif isinstance(value, str):
        text = value.strip().lower().removeprefix("v")
        if not is_whole_number(text, 1, 9999):
            raise RecordError(f"bad version {show(value)}")
        version = int(text)
    else:
        raise RecordError(f"bad version {show(value)}")
    if version < 1 or version > 9999:
        raise RecordError(f"bad version {show(value)}")
    return version


def parse_count(value: Any, name: str = "count") -> int | None:
    """A count (upvotes, stars, comments) that fits the store's 32-bit columns.

    A negative number reads as 0; anything that is not a whole number up to 2^31 - 1 is
    rejected (``"²"``, ``"12k"``, ``1e300``, ``2**31`` cannot be real counts).
    """
    if value is None or value == "":
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = max(value, 0)
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = max(int(value), 0)
    elif isinstance(value, str) and is_whole_number(value.strip(), 0, MAX_INT):
        number = int(value.strip())
    if number is None or number > MAX_INT:
        raise RecordError(f"bad {name} {show(value)} (a whole number from 0 to {MAX_INT})")
    return number


def parse_id(value: Any) -> tuple[str, int | None]:
    if value is None or value == "":
        raise RecordError("missing id")
    if not isinstance(value, str):
        raise RecordError(f"bad id {show(value)}")
    try:
        return parse_arxiv_id(value.strip())
    except ValueError as exc:
        raise RecordError(str(exc)) from None


# --------------------------------------------------------------------------- the store's bounds

# Text fields and the column size that bounds them (None: unbounded Text).
_TEXT_LIMITS: dict[str, int | None] = {
    "arxiv_id": MAX_ARXIV_ID,
    "title": None,
    "abstract": None,
    "primary_category": MAX_CATEGORY,
    "comment": None,
    "journal_ref": None,
    "doi": MAX_SHORT,
    "license": MAX_SHORT,
    "submitter": MAX_SHORT,
    "github_repo": MAX_GITHUB,
    "project_page": MAX_PROJECT_PAGE,
    "ai_summary": None,
    "organization": MAX_SHORT,
}
_LIST_FIELDS = ("authors", "categories", "ai_keywords", "media_urls")
_INT_FIELDS = ("version", "github_stars", "upvotes", "num_comments")
_DATETIME_FIELDS = ("published_at", "updated_at")


def text_problem(text: str, limit: int | None = None) -> str | None:
    """Why ``text`` cannot be stored (NUL, a lone surrogate, too long), or None.

    A lone surrogate (``"\\ud800"`` in JSON, or undecodable bytes read with
    ``surrogateescape``) is not Unicode: no database driver can encode it.
    """
    if limit is not None and len(text) > limit:
        return f"longer than {limit} characters"
    if "\x00" in text:
        return "contains a NUL character"
    if not is_unicode(text):
        return "not valid Unicode (a lone surrogate or undecodable bytes)"
    return None


def check_record(record: PaperRecord) -> None:
    """RecordError unless every field of ``record`` fits the store: the one check every
    record passes before it joins a batch, whatever produced it."""
    for name, limit in _TEXT_LIMITS.items():
        _check_text(name, getattr(record, name), limit)
    for name in _LIST_FIELDS:
        for item in getattr(record, name) or ():
            _check_text(name, item, None)
    for name in _INT_FIELDS:
        number = getattr(record, name)
        if number is not None and not 0 <= number <= MAX_INT:
            raise RecordError(f"{name}: {show(number)} out of range (0 to {MAX_INT})")
    for name in _DATETIME_FIELDS:
        when = getattr(record, name)
        if when is not None:
            check_day(when.date(), when.isoformat(" "))
    if record.daily is not None:
        _check_daily(record.daily)


def _check_daily(daily: DailyInfo) -> None:
    check_day(daily.day, daily.day.isoformat())
    if daily.submitted_at is not None:
        check_day(daily.submitted_at.date(), daily.submitted_at.isoformat(" "))
    _check_text("submitted_by", daily.submitted_by, MAX_SUBMITTED_BY)
    _check_text("source", daily.source, MAX_SOURCE)


def _check_text(name: str, value: str | None, limit: int | None) -> None:
    problem = None if value is None else text_problem(value, limit)
    if problem:
        raise RecordError(f"{name}: {problem}")
