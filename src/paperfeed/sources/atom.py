"""Client of the arXiv Atom API (``settings.arxiv_api_url`` only; no user-supplied URL).

- one request per ``settings.arxiv_request_interval`` seconds (process-wide; slots are
  reserved under a lock and slept for outside it);
- bounded retries with exponential backoff on 5xx/429, timeouts and broken connections;
- responses larger than :data:`MAX_RESPONSE_BYTES` are refused;
- XML parsed with defusedxml; arXiv's error entries (``<id>http://arxiv.org/api/errors...``)
  raise :class:`ArxivAPIError`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
from defusedxml import ElementTree as SafeET

from paperfeed.config import Settings
from paperfeed.papers.categories import validate_category
from paperfeed.papers.ids import parse_arxiv_id
from paperfeed.params import is_whole_number
from paperfeed.sources.capped import read_capped
from paperfeed.sources.records import (
    MAX_CATEGORY,
    MAX_SHORT,
    PaperRecord,
    ReadItem,
    RecordError,
    clean_abstract,
    clean_str,
    collapse,
    parse_datetime,
)

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
MAX_RESPONSE_BYTES = 20 * 1024 * 1024
MAX_ATTEMPTS = 4
IDS_PER_REQUEST = 50
PAGE_SIZE = 100
USER_AGENT = "paperfeed (self-hosted paper feed; https://github.com/)"


class ArxivAPIError(RuntimeError):
    """The arXiv API could not be used (network, HTTP error, error feed, bad document)."""


class ArxivOutOfTime(ArxivAPIError):
    """The caller's deadline passed (or would pass while waiting for a request slot)."""


class ArxivQueryError(ArxivAPIError):
    """arXiv answered, with an error entry about the query itself (e.g. an id it refuses):
    asking again unchanged would get the same answer."""


class _RateLimiter:
    """Request slots ``interval`` apart, process-wide. The lock guards only the bookkeeping:
    a caller reserves its slot under it and sleeps outside it, so a waiting caller never
    holds up the others (each gets the next free slot at once and sleeps until then)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = -1e18  # monotonic time of the next free slot
        self.sleep = time.sleep

    def reserve(self, interval: float) -> float:
        """Take the next free slot; the seconds to wait for it."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + interval
        return slot - now

    def wait(self, interval: float, limit: float | None = None) -> None:
        """Sleep until this caller's slot; ArxivAPIError, without sleeping, when the slot
        lies more than ``limit`` seconds ahead (the caller's deadline would pass first)."""
        delay = self.reserve(interval)
        if limit is not None and delay > limit:
            raise ArxivOutOfTime("arXiv API: out of time (waiting for a request slot)")
        if delay > 0:
            self.sleep(delay)


_limiter = _RateLimiter()


class ArxivClient:
    """GETs on the configured arXiv endpoint, with rate limit, retries and a size cap."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        max_bytes: int = MAX_RESPONSE_BYTES,
        deadline: float | None = None,
    ) -> None:
        self.settings = settings
        self.max_attempts = max_attempts
        self.max_bytes = max_bytes
        self.deadline = time.monotonic() + deadline if deadline is not None else None
        self._client = httpx.Client(
            timeout=httpx.Timeout(settings.http_timeout, connect=min(settings.http_timeout, 10)),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _remaining(self) -> float | None:
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ArxivOutOfTime("arXiv API: out of time")
        return left

    def get(self, params: dict[str, str]) -> bytes:
        interval = max(self.settings.arxiv_request_interval, 0.0)
        last_error = "no attempt"
        for attempt in range(self.max_attempts):
            if attempt:
                backoff = interval * (2**attempt)
                left = self._remaining()
                if left is not None and backoff > left:
                    break
                time.sleep(backoff)
            _limiter.wait(interval, self._remaining())
            left = self._remaining()
            try:
                status, body = self._get_once(params, left)
            except httpx.TimeoutException as exc:
                last_error = f"timed out ({exc.__class__.__name__})"
                continue
            except httpx.TransportError as exc:
                last_error = f"connection failed ({exc.__class__.__name__}: {exc})"
                continue
            if status >= 500 or status == 429:
                last_error = f"HTTP {status}"
                continue
            if status != 200:
                detail = _error_summary(body)
                error = ArxivQueryError if detail else ArxivAPIError
                raise error(f"arXiv API: HTTP {status}" + (f": {detail}" if detail else ""))
            return body
        raise ArxivAPIError(f"arXiv API failed after {self.max_attempts} attempts: {last_error}")

    def _get_once(self, params: dict[str, str], left: float | None) -> tuple[int, bytes]:
        timeout: Any = httpx.USE_CLIENT_DEFAULT
        if left is not None:
            timeout = httpx.Timeout(min(left, self.settings.http_timeout))
        with self._client.stream(
            "GET", self.settings.arxiv_api_url, params=params, timeout=timeout
        ) as response:
            length = response.headers.get("content-length")
            if length and is_whole_number(length, 0, 2**62) and int(length) > self.max_bytes:
                raise ArxivAPIError(
                    f"arXiv API: response of {int(length)} bytes refused (limit {self.max_bytes})"
                )
            too_large = f"arXiv API: response larger than {self.max_bytes} bytes refused"
            body = read_capped(response, self.max_bytes, ArxivAPIError(too_large))
            return response.status_code, body


# --------------------------------------------------------------------------- parsing


def _error_summary(body: bytes) -> str | None:
    try:
        root = SafeET.fromstring(body)
    except Exception:
        return None
    for entry in root.iter(f"{ATOM}entry"):
        entry_id = entry.findtext(f"{ATOM}id") or ""
        if "/api/errors" in entry_id:
            return collapse(entry.findtext(f"{ATOM}summary")) or entry_id
    return None


def parse_feed(
    body: bytes, errors: list[str] | None = None
) -> tuple[list[PaperRecord], int | None]:
    """Records of an arXiv Atom feed and its ``opensearch:totalResults``.

    Raises ArxivAPIError for an unparseable document or an arXiv error entry. One malformed
    entry (a bad id or date) does not sink the others: it is skipped and its reason appended
    to ``errors`` (or logged when no list is given).
    """
    try:
        root = SafeET.fromstring(body)
    except Exception as exc:  # ParseError, DTD/entity refusals of defusedxml
        raise ArxivAPIError(f"arXiv API: unreadable Atom document ({exc})") from None
    if root.tag != f"{ATOM}feed":
        raise ArxivAPIError(f"arXiv API: not an Atom feed (root {root.tag!r})")
    total_text = root.findtext(f"{OPENSEARCH}totalResults")
    total = (
        int(total_text) if total_text and is_whole_number(total_text.strip(), 0, 2**62) else None
    )
    records: list[PaperRecord] = []
    for entry in root.iter(f"{ATOM}entry"):
        entry_id = (entry.findtext(f"{ATOM}id") or "").strip()
        if "arxiv.org/api/errors" in entry_id:
            summary = collapse(entry.findtext(f"{ATOM}summary")) or entry_id
            raise ArxivQueryError(f"arXiv API error: {summary}")
        try:
            record = parse_entry(entry)
        except ArxivAPIError as exc:
            if errors is None:
                log.warning("%s", exc)
            else:
                errors.append(str(exc))
            continue
        if record is not None:
            records.append(record)
    return records, total


def parse_entry(entry: Any) -> PaperRecord | None:
    """One ``<entry>``; None for an empty entry (arXiv's answer for an unknown id)."""
    entry_id = (entry.findtext(f"{ATOM}id") or "").strip()
    title = collapse(entry.findtext(f"{ATOM}title"))
    if not entry_id or not title:
        return None
    try:
        arxiv_id, version = parse_arxiv_id(entry_id)
    except ValueError as exc:
        raise ArxivAPIError(f"arXiv API: entry with unexpected id: {exc}") from None
    try:
        published = parse_datetime(entry.findtext(f"{ATOM}published"))
        updated = parse_datetime(entry.findtext(f"{ATOM}updated"))
    except RecordError as exc:
        raise ArxivAPIError(f"arXiv API: entry {arxiv_id}: {exc}") from None
    authors = [
        name
        for name in (collapse(a.findtext(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author"))
        if name
    ]
    categories: list[str] = []
    for cat in entry.findall(f"{ATOM}category"):
        term = clean_str(cat.get("term"))
        if term and len(term) <= MAX_CATEGORY and term not in categories:
            categories.append(term)
    primary_el = entry.find(f"{ARXIV}primary_category")
    primary = clean_str(primary_el.get("term")) if primary_el is not None else None
    if primary and len(primary) <= MAX_CATEGORY:
        if primary in categories:
            categories.remove(primary)
        categories.insert(0, primary)
    else:
        primary = categories[0] if categories else None
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=clean_abstract(entry.findtext(f"{ATOM}summary")),
        authors=authors,
        categories=categories,
        primary_category=primary,
        published_at=published,
        updated_at=updated,
        version=version,
        comment=clean_str(entry.findtext(f"{ARXIV}comment")),
        journal_ref=clean_str(entry.findtext(f"{ARXIV}journal_ref")),
        doi=clean_str(entry.findtext(f"{ARXIV}doi"), MAX_SHORT),
    )


# --------------------------------------------------------------------------- public API


def _parse_ids(ids: Sequence[str]) -> list[tuple[str, str]]:
    """``(canonical id, id as requested incl. version)``, deduplicated, ValueError if bad."""
    out: dict[str, str] = {}
    for raw in ids:
        arxiv_id, version = parse_arxiv_id(raw)
        out[arxiv_id] = f"{arxiv_id}v{version}" if version else arxiv_id
    return list(out.items())


def fetch_arxiv_papers(
    ids: Sequence[str],
    settings: Settings,
    *,
    deadline: float | None = None,
    per_request: int = IDS_PER_REQUEST,
) -> list[PaperRecord]:
    """Metadata of the given arXiv papers (ids or arxiv.org URLs) from the arXiv API, at
    most ``per_request`` ids a request.

    ValueError for a malformed id (before any request); ArxivAPIError when the API fails
    (ArxivQueryError when arXiv refused the query, e.g. an id it does not accept).
    Papers arXiv does not know are simply absent from the result.
    """
    wanted = _parse_ids(ids)
    records: list[PaperRecord] = []
    with ArxivClient(settings, deadline=deadline) as client:
        for start in range(0, len(wanted), per_request):
            chunk = wanted[start : start + per_request]
            body = client.get(
                {
                    "id_list": ",".join(requested for _id, requested in chunk),
                    "start": "0",
                    "max_results": str(len(chunk)),
                }
            )
            found, _total = parse_feed(body)
            records.extend(found)
    return records


def fetch_arxiv_items(ids: Sequence[str], settings: Settings) -> list[ReadItem]:
    """As :func:`fetch_arxiv_papers`, plus an error item for each id arXiv did not return."""
    wanted = _parse_ids(ids)
    records = fetch_arxiv_papers([requested for _id, requested in wanted], settings)
    got = {r.arxiv_id for r in records}
    items = [ReadItem("arxiv", n, record=r) for n, r in enumerate(records, start=1)]
    for n, (arxiv_id, _requested) in enumerate(wanted, start=1):
        if arxiv_id not in got:
            items.append(ReadItem("--id", n, error=f"{arxiv_id} not found on arXiv"))
    return items


def search_category(
    category: str,
    since: dt.datetime | dt.date,
    settings: Settings,
    *,
    max_results: int = 2000,
    page_size: int = PAGE_SIZE,
    deadline: float | None = None,
) -> list[ReadItem]:
    """Papers of ``category`` submitted on or after ``since``, newest first, paging the API.

    A malformed entry becomes an error item (reported and counted as rejected); the rest load."""
    errors: list[str] = []
    records = search_records(
        f"cat:{validate_category(category)}",
        since,
        settings,
        max_results=max_results,
        page_size=page_size,
        deadline=deadline,
        errors=errors,
    )
    items = [ReadItem("arxiv", n, record=r) for n, r in enumerate(records, start=1)]
    items += [ReadItem("arxiv", n, error=e) for n, e in enumerate(errors, start=1)]
    return items


def search_records(
    search_query: str,
    since: dt.datetime | dt.date | None,
    settings: Settings,
    *,
    max_results: int = 2000,
    page_size: int = PAGE_SIZE,
    deadline: float | None = None,
    errors: list[str] | None = None,
) -> list[PaperRecord]:
    """Run an arXiv ``search_query`` sorted by submission date, newest first, until ``since``.

    Malformed entries are skipped and described in ``errors`` (see parse_feed)."""
    if since is not None and not isinstance(since, dt.datetime):
        since = dt.datetime(since.year, since.month, since.day)
    out: list[PaperRecord] = []
    start = 0
    with ArxivClient(settings, deadline=deadline) as client:
        while len(out) < max_results:
            size = min(page_size, max_results - len(out))
            body = client.get(
                {
                    "search_query": search_query,
                    "sortBy": "submittedDate",
                    "sortOrder": "descending",
                    "start": str(start),
                    "max_results": str(size),
                }
            )
            page_errors: list[str] = []
            records, total = parse_feed(body, page_errors)
            if errors is not None:
                errors.extend(page_errors)
            older = False
            for record in records:
                if since is not None and record.published_at and record.published_at < since:
                    older = True
                    break
                out.append(record)
            start += size
            got = len(records) + len(page_errors)
            if older or got < size or (total is not None and start >= total):
                break
    return out[:max_results]
