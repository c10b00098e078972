"""Readers: each turns files of one format into a stream of :class:`ReadItem`.

They stream (one line in memory at a time, at most MAX_RECORD_BYTES of it; gzip is detected
from the file's magic bytes), never raise for a bad record (they yield an item with ``error``
set, located by file and line) and never touch the database.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from paperfeed.sources.records import (
    MAX_GITHUB,
    MAX_PROJECT_PAGE,
    MAX_SHORT,
    MAX_SUBMITTED_BY,
    DailyInfo,
    PaperRecord,
    ReadItem,
    RecordError,
    author_from_parsed,
    clean_abstract,
    clean_str,
    clean_url,
    collapse,
    parse_authors,
    parse_categories,
    parse_count,
    parse_datetime,
    parse_day,
    parse_id,
    parse_keywords,
    parse_media_urls,
    parse_version,
    show,
)

GZIP_MAGIC = b"\x1f\x8b"
# One record (a JSON line, or an element of a JSON array) is at most this big; a bigger one is
# reported as ``file:line: record larger than N bytes`` and skipped without being held whole.
MAX_RECORD_BYTES = 1 << 20
# A JSON array file is parsed as a whole, so it is held in memory: it may be at most this big
# (JSON lines have no such limit).
MAX_ARRAY_BYTES = 64 << 20


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped on the fly when it is gzip (by magic, not by name)."""
    return _open(path)[0]


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """``open_binary``'s reader, and the file as stored under it (where its position is)."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if head == GZIP_MAGIC:
        fh = io.BufferedReader(gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=1 << 20)
        return fh, raw
    return raw, raw


class ReadPosition:
    """How far the readers are through their files, in bytes as stored (compressed bytes for
    gzip): the fraction done, for a progress line's ETA. Give the same one to the reader
    and to the progress; reading and asking happen in one thread."""

    def __init__(self, paths: Iterable[Path | str]) -> None:
        self.total = sum(_size(Path(p)) for p in paths)
        self._done = 0
        self._file: IO[bytes] | None = None

    def reading(self, raw: IO[bytes]) -> None:
        self._file = raw

    def finished(self, path: Path) -> None:
        self._file = None
        self._done += _size(path)

    def fraction(self) -> float | None:
        if not self.total:
            return None
        at = 0
        if self._file is not None:
            try:
                at = self._file.tell()
            except (OSError, ValueError):  # closed meanwhile
                at = 0
        return min(1.0, (self._done + at) / self.total)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def iter_lines(fh: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Each line of ``fh`` (newline included), or None for a line longer than ``limit``
    bytes: that one is read on in ``limit``-byte pieces and dropped, so memory stays bounded
    by ``limit`` whatever the line's length (a 2 GiB line gzips to 2 MB)."""
    while True:
        line = fh.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = fh.readline(limit)
        yield None


def iter_json_lines(
    path: Path, max_bytes: int = MAX_RECORD_BYTES, position: ReadPosition | None = None
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """``(line number, object, None)`` or ``(line number, None, reason)``; blank lines skipped."""
    lineno = 0
    fh, stored = _open(path)
    if position is not None:
        position.reading(stored)
    with fh, stored:
        try:
            for raw in iter_lines(fh, max_bytes):
                lineno += 1
                if raw is None:
                    yield lineno, None, f"record larger than {max_bytes} bytes"
                    continue
                if not raw.strip():
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    yield lineno, None, f"invalid JSON: {exc}"
                    continue
                if not isinstance(obj, dict):
                    yield lineno, None, f"not a JSON object (got {type(obj).__name__})"
                    continue
                yield lineno, obj, None
        except (OSError, EOFError, zlib.error) as exc:
            yield lineno + 1, None, f"cannot read file: {exc}"
    if position is not None:
        position.finished(path)


def build_item(
    build: Callable[[dict[str, Any]], PaperRecord], obj: dict[str, Any], source: str, line: int
) -> ReadItem:
    """The record ``build`` makes of ``obj``, or the reason it cannot.

    Builders raise RecordError for what they check; any other ValueError/TypeError/
    OverflowError is a value no grammar foresaw, and costs this record only, not the run.
    """
    try:
        return ReadItem(source, line, record=build(obj))
    except RecordError as exc:
        return ReadItem(source, line, error=str(exc))
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        return ReadItem(source, line, error=f"bad value ({type(exc).__name__}: {show(str(exc))})")


def _first(d: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = d.get(key)
        if value is not None and value != "":
            return value
    return None


def _organization(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("fullname") or value.get("name")
    return clean_str(value, MAX_SHORT)


def _user(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("user") or value.get("name")
    return clean_str(value, MAX_SUBMITTED_BY)


def _title(value: Any) -> str:
    title = collapse(value)
    if not title:
        raise RecordError("missing title")
    return title


# --------------------------------------------------------------------------- arXiv snapshot


def snapshot_record(d: dict[str, Any]) -> PaperRecord:
    """One line of arXiv's bulk metadata snapshot (Kaggle ``arxiv-metadata-oai-snapshot``)."""
    arxiv_id, id_version = parse_id(d.get("id"))
    title = _title(d.get("title"))
    parsed = d.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = [
            a for a in (author_from_parsed(p) for p in parsed if isinstance(p, list | tuple)) if a
        ]
    else:
        authors = parse_authors(d.get("authors"))
    categories = parse_categories(d.get("categories"))
    published = updated = None
    version = id_version
    versions = d.get("versions")
    if isinstance(versions, list) and versions:
        dated: list[tuple[int, Any]] = []
        for i, v in enumerate(versions, start=1):
            if not isinstance(v, dict):
                raise RecordError("bad versions entry")
            number = parse_version(v.get("version")) or i
            dated.append((number, parse_datetime(v.get("created"))))
        dated.sort(key=lambda pair: pair[0])
        published = dated[0][1]
        version, updated = dated[-1]
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=clean_abstract(d.get("abstract")),
        authors=authors,
        categories=categories,
        primary_category=categories[0] if categories else None,
        published_at=published,
        updated_at=updated,
        version=version,
        comment=clean_str(d.get("comments")),
        journal_ref=clean_str(d.get("journal-ref")),
        doi=clean_str(d.get("doi"), MAX_SHORT),
        license=clean_str(d.get("license"), MAX_SHORT),
        submitter=clean_str(d.get("submitter"), MAX_SHORT),
    )


def read_arxiv_snapshot(
    paths: Iterable[Path | str], position: ReadPosition | None = None
) -> Iterator[ReadItem]:
    yield from _read_lines(paths, snapshot_record, position=position)


# --------------------------------------------------------------------------- generic JSON lines

ID_KEYS = ("id", "arxiv_id", "arxivId", "paper_id", "entry_id", "url", "abs_url", "link")
PUBLISHED_KEYS = (
    "published",
    "published_at",
    "publishedAt",
    "created",
    "created_at",
    "submitted",
    "submitted_at",
)
UPDATED_KEYS = ("updated", "updated_at", "updatedAt")


def generic_record(d: dict[str, Any]) -> PaperRecord:
    """A paper from a JSON object with any of the common field names."""
    arxiv_id, id_version = parse_id(_first(d, *ID_KEYS))
    title = _title(d.get("title"))
    published = parse_datetime(_first(d, *PUBLISHED_KEYS))
    if published is None:
        published = parse_datetime(d.get("first_listed"))
    categories = parse_categories(d.get("categories"))
    primary = clean_str(d.get("primary_category"))
    if primary is None or len(primary) > 32:
        primary = categories[0] if categories else None
    elif primary not in categories:
        categories.insert(0, primary)
    version = parse_version(d.get("version"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=clean_abstract(_first(d, "abstract", "summary")),
        authors=parse_authors(d.get("authors")),
        categories=categories,
        primary_category=primary,
        published_at=published,
        updated_at=parse_datetime(_first(d, *UPDATED_KEYS)),
        version=version if version is not None else id_version,
        comment=clean_str(_first(d, "comment", "comments")),
        journal_ref=clean_str(_first(d, "journal_ref", "journal-ref", "journalRef")),
        doi=clean_str(d.get("doi"), MAX_SHORT),
        license=clean_str(d.get("license"), MAX_SHORT),
        submitter=clean_str(d.get("submitter"), MAX_SHORT),
        github_repo=clean_url(_first(d, "github_repo", "githubRepo"), MAX_GITHUB),
        github_stars=parse_count(_first(d, "github_stars", "githubStars"), "github_stars"),
        project_page=clean_url(_first(d, "project_page", "projectPage"), MAX_PROJECT_PAGE),
        ai_summary=clean_str(d.get("ai_summary")),
        ai_keywords=parse_keywords(d.get("ai_keywords")),
        media_urls=parse_media_urls(_first(d, "media_urls", "mediaUrls")),
        organization=_organization(d.get("organization")),
        upvotes=parse_count(d.get("upvotes"), "upvotes"),
        num_comments=parse_count(_first(d, "num_comments", "numComments"), "num_comments"),
    )


def read_jsonl(
    paths: Iterable[Path | str], position: ReadPosition | None = None
) -> Iterator[ReadItem]:
    yield from _read_lines(paths, generic_record, position=position)


# --------------------------------------------------------------------------- Daily Papers


def daily_line_record(d: dict[str, Any]) -> PaperRecord:
    """One (day, paper) line as in ``hf-daily-papers/daily_papers.jsonl``."""
    if isinstance(d.get("paper"), dict):
        return daily_api_record(d)
    record = generic_record(d)
    submitted_at = parse_datetime(_first(d, "submitted_on_daily_at", "submittedOnDailyAt"))
    day_value = _first(d, "daily_date", "day", "date")
    if day_value is not None:
        day = parse_day(day_value)
    elif submitted_at is not None:
        day = submitted_at.date()
    else:
        raise RecordError("missing daily_date")
    submitted_by = _user(_first(d, "submitted_by", "submittedBy", "submittedOnDailyBy"))
    record.daily = DailyInfo(day=day, submitted_at=submitted_at, submitted_by=submitted_by)
    return record


def daily_api_record(item: dict[str, Any]) -> PaperRecord:
    """One item of the JSON array ``GET /api/daily_papers`` returns."""
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise RecordError("missing paper object")
    arxiv_id, id_version = parse_id(paper.get("id"))
    title = _title(_first(paper, "title") or item.get("title"))
    submitted_at = parse_datetime(
        _first(paper, "submittedOnDailyAt") or _first(item, "submittedOnDailyAt", "publishedAt")
    )
    if submitted_at is None:
        raise RecordError("missing submittedOnDailyAt")
    submitted_by = _user(item.get("submittedBy")) or _user(paper.get("submittedOnDailyBy"))
    # HF's API carries no arXiv categories; other producers of this format (the demo corpus,
    # mirrors) may add them to the paper object.
    categories = parse_categories(paper.get("categories"))
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=clean_abstract(_first(paper, "summary", "abstract") or item.get("summary")),
        authors=parse_authors(paper.get("authors")),
        categories=categories,
        primary_category=categories[0] if categories else None,
        published_at=parse_datetime(paper.get("publishedAt")),
        version=id_version,
        github_repo=clean_url(paper.get("githubRepo"), MAX_GITHUB),
        github_stars=parse_count(paper.get("githubStars"), "githubStars"),
        project_page=clean_url(paper.get("projectPage"), MAX_PROJECT_PAGE),
        ai_summary=clean_str(paper.get("ai_summary")),
        ai_keywords=parse_keywords(paper.get("ai_keywords")),
        media_urls=parse_media_urls(paper.get("mediaUrls") or item.get("mediaUrls")),
        organization=_organization(item.get("organization") or paper.get("organization")),
        upvotes=parse_count(paper.get("upvotes"), "upvotes"),
        num_comments=parse_count(_first(item, "numComments", "num_comments"), "numComments"),
        daily=DailyInfo(
            day=submitted_at.date(), submitted_at=submitted_at, submitted_by=submitted_by
        ),
    )


def iter_daily_papers_array(text: str, source: str) -> Iterator[ReadItem]:
    """Items of a Daily Papers API array, each located by the line its object starts on."""
    decoder = json.JSONDecoder()
    n = len(text)
    pos = 0

    def skip(p: int) -> int:
        while p < n and text[p] in " \t\r\n":
            p += 1
        return p

    pos = skip(pos)
    if pos >= n or text[pos] != "[":
        yield ReadItem(source, 1, error="not a JSON array")
        return
    pos = skip(pos + 1)
    if pos < n and text[pos] == "]":
        return
    line, counted = 1, 0
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            obj, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:  # bad JSON, an int too long, too deep
            where = getattr(exc, "lineno", line)
            why = getattr(exc, "msg", str(exc) or type(exc).__name__)
            yield ReadItem(source, where, error=f"invalid JSON: {why} (the rest was not read)")
            return
        yield _array_item(obj, text, pos, end, source, line)
        pos = skip(end)
        if pos < n and text[pos] == ",":
            pos = skip(pos + 1)
            continue
        if pos < n and text[pos] == "]":
            return
        yield ReadItem(
            source, text.count("\n", 0, pos) + 1, error="invalid JSON: expected ',' or ']'"
        )
        return


def _array_item(obj: Any, text: str, start: int, end: int, source: str, line: int) -> ReadItem:
    if end - start > MAX_RECORD_BYTES // 4 and (
        len(text[start:end].encode("utf-8", "surrogatepass")) > MAX_RECORD_BYTES
    ):
        return ReadItem(source, line, error=f"record larger than {MAX_RECORD_BYTES} bytes")
    if not isinstance(obj, dict):
        return ReadItem(source, line, error=f"not a JSON object (got {type(obj).__name__})")
    return build_item(daily_api_record, obj, source, line)


def _read_array_text(path: Path) -> str:
    """The whole file as text, at most MAX_ARRAY_BYTES. Bytes that are not UTF-8 become lone
    surrogates (``surrogateescape``): only the element holding them is then rejected."""
    with open_binary(path) as fh:
        data = fh.read(MAX_ARRAY_BYTES + 1)
    if len(data) > MAX_ARRAY_BYTES:
        raise RecordError(
            f"JSON array larger than {MAX_ARRAY_BYTES} bytes (split it, or write JSON lines)"
        )
    return data.decode("utf-8", "surrogateescape")


def _first_char(path: Path) -> bytes:
    with open_binary(path) as fh:
        while True:
            chunk = fh.read(4096)
            if not chunk:
                return b""
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1]


def read_daily_papers(
    paths: Iterable[Path | str], position: ReadPosition | None = None
) -> Iterator[ReadItem]:
    """Daily Papers files: an API JSON array (first non-space char ``[``) or JSON lines."""
    for p in paths:
        path = Path(p)
        source = str(p)
        try:
            first = _first_char(path)
        except (OSError, EOFError, zlib.error) as exc:
            yield ReadItem(source, 1, error=f"cannot read file: {exc}")
            continue
        if first == b"[":
            try:
                text = _read_array_text(path)
            except RecordError as exc:
                yield ReadItem(source, 1, error=str(exc))
                continue
            except (OSError, EOFError, zlib.error) as exc:
                yield ReadItem(source, 1, error=f"cannot read file: {exc}")
                continue
            yield from iter_daily_papers_array(text, source)
            if position is not None:
                position.finished(path)
        else:
            yield from _read_lines([path], daily_line_record, source=source, position=position)


# --------------------------------------------------------------------------- shared


def _read_lines(
    paths: Iterable[Path | str],
    build: Callable[[dict[str, Any]], PaperRecord],
    source: str | None = None,
    position: ReadPosition | None = None,
) -> Iterator[ReadItem]:
    for p in paths:
        name = source or str(p)
        for lineno, obj, error in iter_json_lines(Path(p), position=position):
            if obj is None:
                yield ReadItem(name, lineno, error=error)
                continue
            yield build_item(build, obj, name, lineno)
