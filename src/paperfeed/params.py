"""The grammar of every value a request (or a link, or a query filter) carries: one place.

Why ASCII only: ``str.isdigit()`` is true for ``²`` (which ``int()`` refuses) and ``\\d``
matches ``٣`` (which ``int()`` accepts), so hand-written checks let odd digits through to a
crash or to a second spelling of the same value. Every number here is ``[0-9]`` with a
bound, so it can neither overflow a database integer nor run off the calendar.

Dates: years ``MIN_YEAR``..``MAX_YEAR`` (the search filters' range already). Within it, the
whole period, its start and the day after its end, exists, and so do the neighbours pages
link to; ``9999-12-31`` or ``0000-01-01`` would make ``date + 1`` or ``date - 1`` overflow.

Text: NUL (which PostgreSQL refuses in text), other C0 controls but tab, newline and
carriage return, DEL, and lone surrogates (which no encoder accepts) are refused, as are
values past a length bound, with a message that says which rule failed.
"""

from __future__ import annotations

import datetime as dt
import re

MIN_YEAR = 1900
MAX_YEAR = 2999
ID_MAX = 2**31 - 1  # row ids in paths and forms, as the routes' ``Id`` types
BIGINT_MAX = 2**62  # ids in signed tokens; beyond any row id, within every integer column

_DIGITS = re.compile(r"[0-9]{1,19}")
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
# NUL and the other C0 controls but \t \n \r, DEL, and UTF-16 surrogates (only ever lone in a
# Python str decoded with surrogateescape/surrogatepass or from a JSON \ud800 escape).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class BadValue(ValueError):
    """A request value outside its grammar; the message says what was expected."""


class BadPeriod(BadValue):
    """A malformed date, week or month."""


def _shown(text: str) -> str:
    return repr(text[:40])


def whole_number(text: str, lo: int, hi: int, name: str) -> int:
    """``text`` as an integer in [lo, hi], written in ASCII digits only."""
    if not _DIGITS.fullmatch(text) or not lo <= int(text) <= hi:
        raise BadValue(f"{name} must be a whole number from {lo} to {hi}, got {_shown(text)}")
    return int(text)


def is_whole_number(text: str, lo: int, hi: int) -> bool:
    return bool(_DIGITS.fullmatch(text)) and lo <= int(text) <= hi


def optional_id(text: str, name: str) -> int | None:
    """A row id from a form field; None when the field is empty."""
    return whole_number(text, 1, ID_MAX, name) if text else None


def is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate: a JSON ``\\ud800`` escape, or bytes that were
    not UTF-8 read with ``surrogateescape``. No encoder, so no database driver, takes it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(text: str, max_length: int) -> str | None:
    """Why ``text`` is not acceptable text, or None when it is."""
    if len(text) > max_length:
        return f"is longer than {max_length} characters"
    bad = _FORBIDDEN.search(text)
    if bad is None:
        return None
    if "\ud800" <= bad.group() <= "\udfff":
        return "is not valid Unicode (a lone surrogate)"
    return f"contains a control character (U+{ord(bad.group()):04X})"


def check_text(text: str, name: str, max_length: int = 100_000) -> str:
    problem = text_problem(text, max_length)
    if problem:
        raise BadValue(f"{name} {problem}")
    return text


def _year(text: str, what: str, original: str) -> int:
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadPeriod(f"{what} {_shown(original)}: years run from {MIN_YEAR} to {MAX_YEAR}")
    return year


def parse_day(text: str) -> dt.date:
    m = _DAY.fullmatch(text)
    if not m:
        raise BadPeriod(f"date must be YYYY-MM-DD, got {_shown(text)}")
    try:
        return dt.date(_year(m[1], "date", text), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise BadPeriod(f"date {_shown(text)} does not exist: {exc}") from exc


def parse_week(text: str) -> tuple[dt.date, dt.date]:
    """ISO week ``YYYY-Www`` → [monday, next monday)."""
    m = _WEEK.fullmatch(text)
    if not m:
        raise BadPeriod(f"week must be YYYY-Www (ISO week, e.g. 2025-W09), got {_shown(text)}")
    try:
        start = dt.date.fromisocalendar(_year(m[1], "week", text), int(m[2]), 1)
    except ValueError as exc:
        raise BadPeriod(f"week {_shown(text)} does not exist: {exc}") from exc
    return start, start + dt.timedelta(days=7)


def parse_month(text: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` → [first day, first day of next month)."""
    m = _MONTH.fullmatch(text)
    if not m or not 1 <= int(m[2]) <= 12:
        raise BadPeriod(f"month must be YYYY-MM, got {_shown(text)}")
    start = dt.date(_year(m[1], "month", text), int(m[2]), 1)
    return start, dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)


def signed_token(token: str, numbers: int, max_length: int = 200) -> tuple[list[int], str]:
    """A signed link token ``N[.N...].MAC``: its ``numbers`` leading whole numbers (ASCII
    digits, at most ``BIGINT_MAX``) and its MAC; ``BadValue`` for any other shape."""
    parts = token.split(".")
    if len(token) > max_length or len(parts) != numbers + 1 or not parts[-1]:
        raise BadValue("malformed link token")
    values = [whole_number(p, 0, BIGINT_MAX, "link token") for p in parts[:-1]]
    if not parts[-1].isascii():
        raise BadValue("malformed link token")
    return values, parts[-1]


MAX_NAME = 200  # an author's or organization's name in a path (``/authors/{name}``)


def parse_name(text: str) -> str:
    """An author's or organization's name from a path: spacing collapsed, 1 to ``MAX_NAME``
    characters of text (no control characters)."""
    name = " ".join(check_text(text, "name", MAX_NAME).split())
    if not name:
        raise BadValue("name must not be blank")
    return name
