"""Keeping the keyword index up to the database: updates by watermark, rebuilds beside the
live index, and what killed rebuilds leave behind.

Update: every paper with ``modified_at > watermark`` is (re)written (delete by id, then add,
whenever the index holds anything: idempotent), the new watermark is the largest
``modified_at`` seen. A transaction may commit after a later-stamped one was already indexed,
so papers stamped within ``PAPERFEED_SEARCH_SYNC_OVERLAP_SECONDS`` before the watermark are
checked too: only their (id, modified_at) is read, compared with the ``modified`` fast field
of the index, and the ones that differ are re-indexed. When the index and the database then
disagree on the number of papers (deletions, a lost update, a paper held twice by an index an
older version wrote), the id sets are compared: the difference is removed or added and a
paper held twice is written once again. The watermark is kept in the state file, written
after the index commit (tantivy-py has no commit payload; a crash in between re-indexes the
same papers over themselves), and mirrored in ``index_state`` under ``keyword:<node>``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tantivy
from sqlalchemy import func, select

from paperfeed.search.keyword_schema import (
    BATCH,
    COLUMNS,
    SCHEMA_VERSION,
    document,
    micros,
    new_generation,
    write_changed,
    write_state,
)
from paperfeed.store.db import Database
from paperfeed.store.models import IndexState, Paper, utcnow

if TYPE_CHECKING:
    from paperfeed.search.keyword import KeywordIndex

WRITER_HEAP = 256_000_000
# A rebuild's folder untouched this long was left by a rebuild that died (a live one keeps
# writing segment files into it).
STALE_REBUILD_SECONDS = 3600.0


class IndexBusy(RuntimeError):
    """Another process holds the index writer."""


def remove_stale_rebuilds(path: Path, now: float | None = None) -> list[Path]:
    """Remove what killed rebuilds of the index at ``path`` left beside it: every
    ``.NAME.old-*`` folder (a rebuild removes its own right after the swap) and every
    ``.NAME.new-*`` folder nothing was written to for ``STALE_REBUILD_SECONDS``."""
    now = time.time() if now is None else now
    removed = []
    for child in path.parent.glob(f".{path.name}.*-*"):
        kind = child.name[len(path.name) + 2 :].split("-", 1)[0]
        if not child.is_dir() or kind not in ("new", "old"):
            continue
        if kind == "new" and now - _last_write(child) < STALE_REBUILD_SECONDS:
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child)
    return removed


def _last_write(folder: Path) -> float:
    try:
        return max([folder.stat().st_mtime] + [f.stat().st_mtime for f in folder.rglob("*")])
    except FileNotFoundError:  # being removed or swapped by a live rebuild: leave it be
        return time.time()


def _before_state_write() -> None:
    """Called between the index commit and the watermark write (a test makes it raise, to
    crash the update deterministically in that window)."""


def _threads() -> int:
    return max(1, min(4, (os.cpu_count() or 1)))


def _writer(index: tantivy.Index) -> tantivy.IndexWriter:
    try:
        return index.writer(WRITER_HEAP, _threads())
    except ValueError as exc:  # tantivy's LockBusy
        raise IndexBusy(f"the keyword index is being written by another process: {exc}") from exc


def update(ki: KeywordIndex, db: Database) -> dict[str, int]:
    """Bring ``ki`` up to the database: changed papers re-indexed, deleted ones removed.
    Returns counts: ``indexed``, ``deleted``, ``documents``."""
    with ki.lock:
        index = ki.index
        index.reload()  # what another process (or a crashed update of ours) committed
        state = ki.read_state()
        raw = state.get("watermark")
        watermark = dt.datetime.fromisoformat(raw) if raw else None
        writer = _writer(index)
        try:
            # Delete before add whenever the index holds anything: a crash after a commit
            # but before the watermark was written must not add the same papers again.
            # (tantivy-py has no commit payload to carry the watermark atomically.)
            replace = watermark is not None or int(index.searcher().num_docs) > 0
            indexed, newest = write_changed(db, writer, watermark, replace=replace)
            if watermark is not None:
                indexed += _recheck_overlap(ki, db, writer, index, watermark)
            writer.commit()
            _before_state_write()
            index.reload()
            deleted, added = _reconcile(ki, db, writer, index)
            if deleted or added:
                writer.commit()
                index.reload()
        finally:
            writer.wait_merging_threads()
        new_mark = max(m for m in (watermark, newest) if m) if (watermark or newest) else None
        state["watermark"] = new_mark.isoformat() if new_mark else None
        write_state(ki.path, state)
        documents = int(index.searcher().num_docs)
    stats = {"indexed": indexed + added, "deleted": deleted, "documents": documents}
    _record(ki, db, new_mark, stats)
    return stats


def _indexed_modified(
    ki: KeywordIndex, searcher: tantivy.Searcher, ids: list[int]
) -> dict[Any, Any]:
    """The ``modified`` fast field (by id) of the documents of ``ids`` the index holds."""
    query = tantivy.Query.term_set_query(ki.schema, "id", ids)
    addresses = [a for _, a in searcher.search(query, len(ids), count=False).hits]
    if not addresses:
        return {}
    return dict(
        zip(
            searcher.fast_field_values("id", addresses),
            searcher.fast_field_values("modified", addresses),
            strict=True,
        )
    )


def _recheck_overlap(
    ki: KeywordIndex,
    db: Database,
    writer: tantivy.IndexWriter,
    index: tantivy.Index,
    watermark: dt.datetime,
) -> int:
    """Papers stamped within the overlap before the watermark: re-index those whose
    ``modified_at`` differs from the indexed one (a transaction that committed after a
    later-stamped one was indexed). Only (id, modified_at) is read for the others."""
    since = watermark - dt.timedelta(seconds=ki.settings.search_sync_overlap_seconds)
    with db.read() as session:
        window = {
            pid: micros(modified)
            for pid, modified in session.execute(
                select(Paper.id, Paper.modified_at).where(
                    Paper.modified_at >= since, Paper.modified_at <= watermark
                )
            )
        }
    if not window:
        return 0
    searcher = index.searcher()
    stale: list[int] = []
    ids = list(window)
    for start in range(0, len(ids), BATCH * 10):
        chunk = ids[start : start + BATCH * 10]
        indexed = _indexed_modified(ki, searcher, chunk)
        stale += [pid for pid in chunk if indexed.get(pid) != window[pid]]
    for start in range(0, len(stale), BATCH):
        chunk = stale[start : start + BATCH]
        with db.read() as session:
            for row in session.execute(select(*COLUMNS).where(Paper.id.in_(chunk))):
                writer.delete_documents_by_term("id", row[0])
                writer.add_document(document(row))
    return len(stale)


def _reconcile(
    ki: KeywordIndex, db: Database, writer: tantivy.IndexWriter, index: tantivy.Index
) -> tuple[int, int]:
    """Make the index's id set equal to the database's, each paper once, when the counts
    differ. A paper held twice (an index written before updates were idempotent) is
    deleted and added again, counted in both figures."""
    with db.read() as session:
        db_count = session.scalar(select(func.count()).select_from(Paper)) or 0
    if int(index.searcher().num_docs) == db_count:
        return 0, 0
    with db.read() as session:
        db_ids = set(session.scalars(select(Paper.id)))
    held = ki.id_counts()
    index_ids = set(held)
    gone = index_ids - db_ids
    twice = {pid for pid, n in held.items() if n > 1 and pid in db_ids}
    for pid in gone | twice:
        writer.delete_documents_by_term("id", pid)
    missing = sorted((db_ids - index_ids) | twice)
    for start in range(0, len(missing), BATCH):
        chunk = missing[start : start + BATCH]
        with db.read() as session:
            for row in session.execute(select(*COLUMNS).where(Paper.id.in_(chunk))):
                writer.add_document(document(row))
    return len(gone) + len(twice), len(missing)


def rebuild(ki: KeywordIndex, db: Database) -> dict[str, int]:
    """Build a new index from the whole database beside the live one, then swap it in;
    searches keep using the old one until then."""
    with ki.lock:
        parent = ki.path.parent
        remove_stale_rebuilds(ki.path)
        fresh = parent / f".{ki.path.name}.new-{uuid.uuid4().hex[:8]}"
        fresh.mkdir(parents=True)
        try:
            index = tantivy.Index(ki.schema, path=str(fresh), reuse=False)
            writer = _writer(index)
            started = utcnow()
            try:
                indexed, newest = write_changed(db, writer, None, replace=False)
                writer.commit()
            finally:
                writer.wait_merging_threads()
            # Papers changed while we read are caught by the overlap of the next update.
            mark = newest or started
            state = {"schema": SCHEMA_VERSION, "watermark": mark.isoformat()}
            state["generation"] = new_generation()
            write_state(fresh, state)
            old = parent / f".{ki.path.name}.old-{uuid.uuid4().hex[:8]}"
            if ki.path.exists():
                os.replace(ki.path, old)
            os.replace(fresh, ki.path)
            shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        ki.reopen()
        documents = ki.num_docs_unlocked()
    stats = {"indexed": indexed, "deleted": 0, "documents": documents}
    _record(ki, db, mark, stats)
    return stats


def _record(
    ki: KeywordIndex, db: Database, mark: dt.datetime | None, stats: dict[str, int]
) -> None:
    """Mirror the watermark in ``index_state`` (``keyword:<node>``), for status."""
    name = f"keyword:{ki.settings.search_node}"[:128]
    info: dict[str, Any] = {**stats, "path": str(ki.path)}
    with db.write() as session:
        row = session.get(IndexState, name)
        if row is None:
            session.add(IndexState(name=name, watermark=mark, info=info, updated_at=utcnow()))
        else:
            row.watermark, row.info, row.updated_at = mark, info, utcnow()
