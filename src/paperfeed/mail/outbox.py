"""The outbox: where mail goes on a site with no SMTP relay (``PAPERFEED_SMTP_HOST`` unset).

One RFC 5322 message a file, ``PAPERFEED_DATA_DIR/outbox/<time>-<random>.eml``, written
atomically (a hidden temporary file in the same folder, flushed, fsynced, then renamed), so a
reader never sees half a message and names sort oldest first. An admin reads them at
``/admin/outbox``; ``paperfeed outbox list|clear`` does the same from the shell.

Bounded: once more than ``PAPERFEED_OUTBOX_MAX_MESSAGES`` are kept, each new message deletes
the oldest beyond that number, with a warning in the log saying how many went.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from paperfeed.config import Settings

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[0-9]{20}-[0-9a-f]{12}\.eml")
URL_RE = re.compile(r"https?://[^\s<>\"')\]]+")
MAX_READ_BYTES = 4 * 1024 * 1024  # a message larger than this is not shown


@dataclass(frozen=True, slots=True)
class Entry:
    """A message as listed: its file name and main headers."""

    name: str
    when: str
    sender: str
    to: str
    subject: str


@dataclass(frozen=True, slots=True)
class Shown:
    """A message as read: headers, the text part, and the HTML part as source text."""

    entry: Entry
    headers: list[tuple[str, str]]
    text: str
    html_source: str | None


def outbox_dir(settings: Settings) -> Path:
    return settings.data_dir / "outbox"


class Outbox:
    def __init__(self, directory: Path, max_messages: int) -> None:
        self.directory = directory
        self.max_messages = max_messages

    @classmethod
    def of(cls, settings: Settings) -> Outbox:
        return cls(outbox_dir(settings), settings.outbox_max_messages)

    def names(self) -> list[str]:
        """Every message's file name, oldest first."""
        try:
            found = [e.name for e in os.scandir(self.directory) if NAME_RE.fullmatch(e.name)]
        except FileNotFoundError:
            return []
        return sorted(found)

    def write(self, data: bytes) -> str:
        """Store one message atomically; returns its file name."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{secrets.token_hex(6)}.eml"
        temporary = self.directory / f".{name}.tmp"
        try:
            with open(temporary, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.directory / name)
        finally:
            temporary.unlink(missing_ok=True)
        self._keep_bounded()
        return name

    def _keep_bounded(self) -> None:
        names = self.names()
        extra = len(names) - self.max_messages
        if extra <= 0:
            return
        deleted = self.delete(names[:extra])
        log.warning(
            "outbox over %d messages: deleted the %d oldest (PAPERFEED_OUTBOX_MAX_MESSAGES)",
            self.max_messages,
            deleted,
        )

    def delete(self, names: list[str]) -> int:
        deleted = 0
        for name in names:
            if NAME_RE.fullmatch(name):
                try:
                    (self.directory / name).unlink()
                    deleted += 1
                except FileNotFoundError:
                    pass  # another process pruned it first
        return deleted

    def clear(self, keep: int = 0) -> int:
        """Delete all but the ``keep`` newest messages; returns how many were deleted."""
        names = self.names()
        return self.delete(names[: max(0, len(names) - keep)])

    def page(self, offset: int, limit: int) -> tuple[int, list[Entry]]:
        """(how many messages there are, ``limit`` of them newest first from ``offset``)."""
        names = self.names()
        newest_first = names[::-1][offset : offset + limit]
        entries = [e for e in (self._entry(n) for n in newest_first) if e is not None]
        return len(names), entries

    def _entry(self, name: str) -> Entry | None:
        try:
            with open(self.directory / name, "rb") as f:
                headers = BytesHeaderParser(policy=policy.default).parse(f)
        except FileNotFoundError:
            return None
        return _entry_of(name, headers)

    def read(self, name: str) -> Shown | None:
        """One message, or None when ``name`` is not a message of this outbox."""
        if not NAME_RE.fullmatch(name):
            return None
        path = self.directory / name
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_READ_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(data) > MAX_READ_BYTES:
            data = data[:MAX_READ_BYTES]
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        return Shown(
            entry=_entry_of(name, message),
            headers=[(k, str(v)) for k, v in message.items()],
            text=_part(message, "plain") or "",
            html_source=_part(message, "html"),
        )


def _entry_of(name: str, headers: Message) -> Entry:
    def header(key: str) -> str:
        return " ".join(str(headers.get(key, "") or "").split())

    return Entry(name, _when(header("Date")), header("From"), header("To"), header("Subject"))


def _when(date: str) -> str:
    """A Date header as ``2026-12-05 01:42 UTC`` (as written when it does not parse)."""
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return date
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC)
    return f"{parsed:%Y-%m-%d %H:%M} UTC"


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return None
    try:
        content = body.get_content()
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else None


def segments(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_link) so that a page can make the links clickable and
    escape everything else: only http(s) URLs become links."""
    out: list[tuple[str, bool]] = []
    last = 0
    for match in URL_RE.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        if match.start() > last:
            out.append((text[last : match.start()], False))
        out.append((url, True))
        last = match.start() + len(url)
    if last < len(text):
        out.append((text[last:], False))
    return out
