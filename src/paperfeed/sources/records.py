"""The normalised record every reader produces, and the helpers that normalise fields.

A reader turns one line of some format into a :class:`PaperRecord` (or a
:class:`RecordError` saying why it cannot); the pipeline merges records into the store.
Every datetime is naive UTC, every string is stripped, titles/abstracts have their
whitespace collapsed.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from paperfeed.sources.arxiv_ids import parse_arxiv_id

# Column sizes of the store (PostgreSQL enforces them).
MAX_CATEGORY = 32
MAX_SHORT = 255
MAX_SUBMITTED_BY = 64
MAX_GITHUB = 512
MAX_PROJECT_PAGE = 1024


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
        raise RecordError(f"bad date {value!r}")
    if result.tzinfo is not None:
        result = result.astimezone(dt.UTC).replace(tzinfo=None)
    if not 1900 <= result.year <= 2200:
        raise RecordError(f"bad date {value!r} (year out of range)")
    return result


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
        raise RecordError(f"bad date {text!r}") from None


def parse_day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                raise RecordError(f"bad date {value!r}") from None
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
        text = value.strip()
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
    if isinstance(value, list | tuple):
        names: list[str] = []
        for item in value:
            if isinstance(item, str):
                name = collapse(item)
            elif isinstance(item, dict):
                name = collapse(item.get("name") or item.get("fullname"))
            elif isinstance(item, list | tuple) and item:
                # authors_parsed style: [last, first, suffix]
                name = author_from_parsed(item)
            else:
                name = ""
            if name:
                names.append(name)
        return names
    raise RecordError(f"bad authors field (type {type(value).__name__})")


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
        raise RecordError(f"bad version {value!r}")
    if isinstance(value, int):
        version = value
    elif isinstance(value, str):
        text = value.strip().lower().removeprefix("v")
        if not text.isdigit():
            raise RecordError(f"bad version {value!r}")
        version = int(text)
    else:
        raise RecordError(f"bad version {value!r}")
    if version < 1 or version > 9999:
        raise RecordError(f"bad version {value!r}")
    return version


def parse_count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value == value:
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_id(value: Any) -> tuple[str, int | None]:
    if value is None or value == "":
        raise RecordError("missing id")
    if not isinstance(value, str):
        raise RecordError(f"bad id {value!r}")
    try:
        return parse_arxiv_id(value.strip())
    except ValueError as exc:
        raise RecordError(str(exc)) from None
