"""What the keyword index holds: its schema, a paper's document, and the state file beside it.

Schema: ``id`` (papers.id, fast), ``title`` and ``abstract`` (English stemming), ``authors``
(no stemming, positions for "first last", one value per author), ``names`` (each author's
name variants, :mod:`~paperfeed.search.authors`), ``category`` (raw, lower-cased, each category and
its archive: ``cs.cl`` and ``cs``), ``day`` (publication day as YYYYMMDD), ``has_code`` (0/1),
``modified`` (``papers.modified_at`` in µs, to tell a stale document). Only ``id`` and
``modified`` are read back, from their fast fields; nothing is stored, so the index stays
small. Text is indexed with accents dropped (``paperfeed.text.fold``), as queries are read.

The state file (``state.json``) holds the schema version, the watermark and the generation
(which changes when a rebuild swaps the folder).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import select

from paperfeed.papers.items import DESCRIPTION_COLUMNS
from paperfeed.search.authors import name_variants
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from paperfeed.text import fold

# Bump when the schema or the documents change: an index of another version starts empty.
SCHEMA_VERSION = 3
STATE_FILE = "state.json"
# Papers read (and written) per batch.
BATCH = 5000

# What a document is made of, in this order (``modified_at`` last).
COLUMNS = (Paper.id, *DESCRIPTION_COLUMNS, Paper.github_repo, Paper.modified_at)

_EPOCH = dt.datetime(1970, 1, 1)


def schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("id", indexed=True, fast=True)
    b.add_text_field("title", tokenizer_name="en_stem")
    b.add_text_field("abstract", tokenizer_name="en_stem")
    b.add_text_field("authors", tokenizer_name="default")
    b.add_text_field("names", tokenizer_name="default")  # authors' name variants (authors.py)
    b.add_text_field("category", tokenizer_name="raw", index_option="basic")
    b.add_integer_field("day", indexed=True, fast=True)
    b.add_integer_field("has_code", indexed=True, fast=True)
    b.add_integer_field("modified", fast=True)  # papers.modified_at, µs since the epoch
    return b.build()


def day_number(day: dt.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


def micros(value: dt.datetime | None) -> int:
    if value is None:
        return 0
    return int((value - _EPOCH) / dt.timedelta(microseconds=1))


def document(row: Any) -> tantivy.Document:
    """The document of a paper, from a row of ``COLUMNS``."""
    pid, title, abstract, authors, categories, primary, published, github, _ = row
    cats: set[str] = set()
    for cat in [*(categories or []), *([primary] if primary else [])]:
        low = str(cat).lower()
        cats.add(low)
        cats.add(low.split(".", 1)[0])
    doc = tantivy.Document()
    doc.add_integer("id", pid)
    doc.add_text("title", fold(title or ""))
    doc.add_text("abstract", fold(abstract or ""))
    # One value per author: a phrase never runs from one name into the next.
    for author in authors or []:
        doc.add_text("authors", fold(str(author)))
        for form in name_variants(str(author)):
            doc.add_text("names", " ".join(form))
    for cat in sorted(cats):
        doc.add_text("category", cat)
    if published is not None:
        doc.add_integer("day", day_number(published.date()))
    doc.add_integer("has_code", 1 if github else 0)
    doc.add_integer("modified", micros(row[-1]))
    return doc


def changed_rows(db: Database, since: dt.datetime | None) -> Iterator[Any]:
    """Every paper, or those changed after ``since``, as rows of ``COLUMNS``."""
    stmt = select(*COLUMNS)
    if since is not None:
        stmt = stmt.where(Paper.modified_at > since)
    with db.read() as session:
        yield from session.execute(stmt.execution_options(yield_per=BATCH))


def write_changed(
    db: Database, writer: tantivy.IndexWriter, since: dt.datetime | None, *, replace: bool
) -> tuple[int, dt.datetime | None]:
    """Add the papers changed after ``since`` (all when None), each first deleted by id with
    ``replace``; how many, and the newest ``modified_at`` among them."""
    count = 0
    newest: dt.datetime | None = None
    for row in changed_rows(db, since):
        if replace:
            writer.delete_documents_by_term("id", row[0])
        writer.add_document(document(row))
        modified = row[-1]
        if modified is not None and (newest is None or modified > newest):
            newest = modified
        count += 1
    return count, newest


def read_state(folder: Path) -> dict[str, Any]:
    """The state file in ``folder`` ({} when missing or unreadable)."""
    try:
        state: dict[str, Any] = json.loads((folder / STATE_FILE).read_text())
        return state
    except (OSError, ValueError):
        return {}


def write_state(folder: Path, state: dict[str, Any]) -> None:
    """Replace the state file in ``folder`` atomically."""
    target = folder / STATE_FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, target)


def new_generation() -> str:
    return uuid.uuid4().hex
