"""The admin's import of an existing list (``paperfeed subscribers import``): CSV rows
``email[,period[,topics]]``, each good row added, each bad one reported by line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from paperfeed.config import Settings
from paperfeed.digest import DigestError
from paperfeed.digest.subscriptions.prefs import Prefs, make_prefs
from paperfeed.digest.subscriptions.subscribers import add
from paperfeed.params import is_unicode
from paperfeed.store.db import Database


@dataclass(slots=True)
class ImportReport:
    added: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(
    db: Database, settings: Settings, text: str, *, confirmed: bool
) -> tuple[ImportReport, list[tuple[str, str]]]:
    """Rows ``email[,period[,topics]]`` (a header row naming ``email`` is allowed; topics are
    ``;``-separated, ``cat:cs.CL``, ``author:Name`` or plain keywords). Bad rows are reported
    with their line number; good rows are kept. Returns the report and, when not
    ``confirmed``, the (email, token) pairs whose confirmation mail should go out."""
    report = ImportReport()
    to_mail: list[tuple[str, str]] = []
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for line, row, problem in _csv_rows(reader):
        if problem:
            report.errors.append((line, problem))
            continue
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if header is None and line == 1 and "email" in [c.lower() for c in cells]:
            header = [c.lower() for c in cells]
            continue
        record: dict[str, str] = (
            dict(zip(header, cells, strict=False))
            if header
            else dict(zip(("email", "period", "topics"), cells, strict=False))
        )
        try:
            prefs = _row_prefs(settings, record)
            view, token = add(
                db, settings, record.get("email", ""), confirmed=confirmed, prefs=prefs,
                source="cli import",
            )  # fmt: skip
            report.added += 1
            if token:
                to_mail.append((view.email, token))
        except DigestError as exc:
            report.errors.append((line, str(exc)))
    return report, to_mail


def _csv_rows(reader: Any) -> Iterable[tuple[int, list[str], str | None]]:
    """``(line, cells, None)`` per row, or ``(line, [], reason)`` for a row that cannot be
    used; csv's own errors (a field over its 128 KB limit) cost that row only."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, [], f"unreadable row ({exc})"
            continue
        joined = "".join(row)
        if "\x00" in joined:
            yield reader.line_num, [], "contains a NUL character"
        elif not is_unicode(joined):
            yield reader.line_num, [], "not valid UTF-8"
        else:
            yield reader.line_num, row, None


def decode_csv(data: bytes) -> str:
    """A CSV file's text: UTF-8 (a BOM is dropped); bytes that are not UTF-8 are kept as lone
    surrogates so that :func:`import_csv` rejects only the rows holding them."""
    return data.decode("utf-8-sig", "surrogateescape")


def _row_prefs(settings: Settings, record: dict[str, str]) -> Prefs:
    cats: list[str] = []
    kws: list[str] = []
    authors: list[str] = []
    for topic in (record.get("topics") or "").split(";"):
        topic = topic.strip()
        if not topic:
            continue
        kind, sep, value = topic.partition(":")
        if sep and kind.lower() in ("cat", "category"):
            cats.append(value)
        elif sep and kind.lower() == "author":
            authors.append(value)
        else:
            kws.append(topic)
    return make_prefs(
        settings,
        period=(record.get("period") or "daily").lower(),
        categories=cats,
        keywords=kws,
        authors=authors,
    )
