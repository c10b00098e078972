"""The semantic index's update side: embedding new and changed papers, writing and publishing
the node's base file, and the lock that lets one updater run at a time.

- **Embedding**: ``update`` embeds only papers that are new, whose text changed (content
  hash) or that were embedded by another model; a paper modified otherwise (upvotes) is only
  marked checked. Work is committed every ``embedding_commit_every`` papers, so an
  interrupted run resumes where it stopped.
- **Base file**: written (base + delta, to a temporary name, then renamed) by ``paperfeed
  index update``/``rebuild`` whenever the table moved, and by a worker in the background
  when its delta passes ``ann_delta_max`` (on a node where no update runs).
- **Update lock**: embedding papers and writing the base file happen under one lock shared
  by every process and host of the database (``db.ops.exclusive_lock``: on PostgreSQL a
  session advisory lock, on SQLite an ``flock`` on ``<database>-indexlock``), so two updaters
  never embed the same papers or write the file at once; the second waits, or with
  ``wait=False`` raises :class:`UpdateBusy`.

The query side (:mod:`paperfeed.search.vectors`) owns the in-memory index; a
:class:`VectorUpdater` works on the one it was made for.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from paperfeed.progress import Progress
from paperfeed.search.ann import HnswStore
from paperfeed.search.ann_files import publish_base, remove_bases
from paperfeed.search.ann_layered import LayeredStore
from paperfeed.search.embedder import content_hash, paper_text
from paperfeed.search.vector_rows import stored_chunks
from paperfeed.store.db import Database
from paperfeed.store.dialect import LockBusy
from paperfeed.store.embeddings import table_state, to_blob
from paperfeed.store.models import IndexState, Paper, PaperEmbedding, utcnow

if TYPE_CHECKING:
    from paperfeed.search.vectors import VectorSearch

log = logging.getLogger(__name__)

# A worker whose background write of a new base file failed or found the lock taken tries
# again after this long.
COMPACT_RETRY_SECONDS = 60.0
# PostgreSQL advisory lock key of semantic index updates ("pfvector").
UPDATE_LOCK_KEY = 0x7066766563746F72
BUSY = "another process is updating the semantic index"

# A paper to embed: (id, text, content hash, its modified_at).
Todo = tuple[int, str, str, dt.datetime]


class UpdateBusy(RuntimeError):
    """Another process (or thread) is updating the semantic index, and the caller would not
    wait."""


class UpdateLock:
    """One semantic-index updater at a time, across threads, processes and hosts sharing the
    database (``db.ops.exclusive_lock``; its file is in ``fallback_dir`` when the database
    has none). Re-entrant within one thread of one instance."""

    def __init__(self, fallback_dir: Path) -> None:
        self.fallback_dir = fallback_dir
        self._mutex = threading.RLock()
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._depth > 0

    @contextmanager
    def hold(self, db: Database, *, wait: bool = True) -> Iterator[None]:
        """Hold the lock for the block; without ``wait``, raise :class:`UpdateBusy` at once
        when someone else holds it."""
        if not self._mutex.acquire(blocking=wait):
            raise UpdateBusy("another semantic index update is running in this process")
        try:
            with ExitStack() as stack:
                if self._depth == 0:
                    try:
                        stack.enter_context(self._shared_lock(db, wait))
                    except LockBusy as exc:
                        raise UpdateBusy(BUSY) from exc
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
        finally:
            self._mutex.release()

    def _shared_lock(self, db: Database, wait: bool) -> AbstractContextManager[None]:
        return db.ops.exclusive_lock(
            db.engine,
            key=UPDATE_LOCK_KEY,
            suffix="-indexlock",
            fallback=self.fallback_dir / ".vectors-update.lock",
            wait=wait,
            on_wait=lambda: log.warning("%s: waiting for it to finish", BUSY),
        )


class VectorUpdater:
    """Keeps one :class:`~paperfeed.search.vectors.VectorSearch`'s embeddings and base file
    up to date."""

    def __init__(self, index: VectorSearch) -> None:
        self.index = index
        self._compactor: threading.Thread | None = None
        self._compact_not_before = 0.0

    # --- embeddings ------------------------------------------------------------------------

    def _pending_filter(self) -> Any:
        return or_(
            PaperEmbedding.paper_id.is_(None),
            PaperEmbedding.model != self.index.model,
            PaperEmbedding.paper_modified_at.is_(None),
            Paper.modified_at > PaperEmbedding.paper_modified_at,
        )

    def count_pending(self, session: Session) -> int:
        """Papers still to embed (new, changed, or embedded by another model)."""
        return int(
            session.scalar(
                select(func.count())
                .select_from(Paper)
                .outerjoin(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
                .where(self._pending_filter())
            )
            or 0
        )

    def update(self, db: Database, progress: bool = False, *, wait: bool = True) -> dict[str, int]:
        """Embed new and changed papers, then bring the node's index up to date and write
        its base file again, under the update lock."""
        with self.index.update_lock.hold(db, wait=wait):
            stats = self.embed_pending(db, progress=progress, everything=False)
            stats.update(self._refresh_index(db, rebuild=False))
        return stats

    def rebuild(
        self, db: Database, progress: bool = False, reembed: bool = False, *, wait: bool = True
    ) -> dict[str, int]:
        """Build the node's index again from the stored embeddings (after embedding what is
        pending; every paper with ``reembed``), under the update lock."""
        with self.index.update_lock.hold(db, wait=wait):
            stats = self.embed_pending(db, progress=progress, everything=reembed)
            stats.update(self._refresh_index(db, rebuild=True))
        return stats

    def embed_pending(self, db: Database, *, progress: bool, everything: bool) -> dict[str, int]:
        """Embed what is pending (every paper with ``everything``), committing every
        ``embedding_commit_every`` papers. Caller holds the update lock."""
        with db.read() as session:
            total = (
                int(session.scalar(select(func.count()).select_from(Paper)) or 0)
                if everything
                else self.count_pending(session)
            )
        embedded = checked = 0
        last_id = 0
        with _progress(total, progress) as bar:
            while rows := self._next_rows(db, last_id, everything):
                last_id = int(rows[-1][0])
                todo, seen = self._sort_out(rows, everything)
                self._store_embeddings(db, todo, seen)
                embedded += len(todo)
                checked += len(seen)
                bar(len(rows))
        return {"embedded": embedded, "unchanged": checked}

    def _next_rows(self, db: Database, last_id: int, everything: bool) -> list[Any]:
        """The next papers after ``last_id`` to look at, with their stored hash and model."""
        query = (
            select(
                Paper.id,
                Paper.title,
                Paper.abstract,
                Paper.modified_at,
                PaperEmbedding.content_hash,
                PaperEmbedding.model,
            )
            .outerjoin(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
            .where(Paper.id > last_id)
            .order_by(Paper.id)
            .limit(self.index.settings.embedding_commit_every)
        )
        if not everything:
            query = query.where(self._pending_filter())
        with db.read() as session:
            return list(session.execute(query).all())

    def _sort_out(
        self, rows: list[Any], everything: bool
    ) -> tuple[list[Todo], list[dict[str, Any]]]:
        """Papers to embed, and papers whose text is unchanged (only marked checked)."""
        model = self.index.model
        todo: list[Todo] = []
        seen: list[dict[str, Any]] = []
        for pid, title, abstract, modified, old_hash, old_model in rows:
            text = paper_text(title or "", abstract or "")
            digest = content_hash(model, text)
            if everything or old_hash != digest or old_model != model:
                todo.append((int(pid), text, digest, modified))
            else:
                seen.append({"paper_id": int(pid), "paper_modified_at": modified})
        return todo, seen

    def _store_embeddings(self, db: Database, todo: list[Todo], seen: list[dict[str, Any]]) -> None:
        """Embed ``todo`` and store the vectors; mark ``seen`` checked; one transaction."""
        index = self.index
        vectors = index.embedder.embed([t[1] for t in todo]) if todo else None
        now = utcnow()
        with db.write() as session:
            if todo:
                ids = [t[0] for t in todo]
                session.execute(delete(PaperEmbedding).where(PaperEmbedding.paper_id.in_(ids)))
                assert vectors is not None
                rows = [
                    {
                        "paper_id": pid,
                        "model": index.model,
                        "dim": index.dim,
                        "vector": to_blob(vector),
                        "content_hash": digest,
                        "paper_modified_at": modified,
                        "embedded_at": now,
                    }
                    for (pid, _, digest, modified), vector in zip(todo, vectors, strict=True)
                ]
                session.execute(insert(PaperEmbedding), rows)
            if seen:
                session.execute(update(PaperEmbedding), seen)

    # --- the node's index and its base file --------------------------------------------------

    def _refresh_index(self, db: Database, *, rebuild: bool) -> dict[str, int]:
        """Catch the index up and write the base file again when the table moved (from
        scratch with ``rebuild``). Caller holds the update lock."""
        index = self.index
        with index.state_lock:
            index.db = db
            if rebuild:
                index.forget()
        if rebuild:
            with db.read() as session:
                count, _ = table_state(session, index.model)
            if index.want_ann(count):
                self.publish(*self.graph_from_table())
            else:
                remove_bases(index.index_dir, index.stem)
        index.sync_now()
        self.compact()
        with index.state_lock:
            store = index.store
            assert store is not None
            size = len(store)
        self._record_state(db, size)
        return {"index_size": size}

    def _record_state(self, db: Database, size: int) -> None:
        index = self.index
        name = f"vectors:{index.settings.search_node}"[:128]
        store = index.store
        info = {
            "model": index.model,
            "index": store.kind if store is not None else "none",
            "size": size,
            "path": str(store.path) if isinstance(store, LayeredStore) else None,
            "version": store.version if isinstance(store, LayeredStore) else None,
        }
        with db.write() as session:
            row = session.get(IndexState, name)
            if row is None:
                session.add(IndexState(name=name, watermark=index.watermark, info=info))
            else:
                row.watermark = index.watermark
                row.info = info
                row.updated_at = utcnow()

    def _new_hnsw(self) -> HnswStore:
        s = self.index.settings
        return HnswStore(
            self.index.dim,
            connectivity=s.ann_connectivity,
            expansion_add=s.ann_expansion_add,
            expansion_search=s.ann_expansion_search,
        )

    def graph_from_table(self) -> tuple[HnswStore, dt.datetime | None]:
        """A new in-memory graph of every stored embedding, and the newest ``embedded_at``."""
        graph = self._new_hnsw()
        watermark: dt.datetime | None = None
        with self.index.db.read() as session:
            for ids, matrix, newest in stored_chunks(session, self.index.model, None):
                graph.upsert(ids, matrix)
                if watermark is None or newest > watermark:
                    watermark = newest
        return graph, watermark

    def publish(self, graph: HnswStore, watermark: dt.datetime | None) -> None:
        """Write ``graph`` as the node's new base file. Caller holds the update lock."""
        index = self.index
        publish_base(
            graph,
            index.index_dir,
            index.stem,
            {
                "model": index.model,
                "dim": index.dim,
                "watermark": watermark.isoformat() if watermark else None,
                "saved_at": utcnow().isoformat(),
            },
        )

    def compact(self) -> bool:
        """Write the base file again with this worker's delta and tombstones applied, then
        map it; False when there was nothing to apply. Caller holds the update lock (not
        the index's state lock: searches go on meanwhile)."""
        index = self.index
        with index.state_lock:
            store = index.store
            if not isinstance(store, LayeredStore) or not store.changes:
                return False
            meta = index.read_pointer()
            if meta is None or meta["version"] != store.version:
                # Another process published a newer file meanwhile: map that one.
                index.sync()
                return False
            hidden, keys, matrix = store.snapshot()
            watermark, path = index.watermark, store.path
        s = index.settings
        graph = (
            HnswStore.open(
                path,
                connectivity=s.ann_connectivity,
                expansion_add=s.ann_expansion_add,
                expansion_search=s.ann_expansion_search,
            )
            if path is not None
            else None
        )
        if graph is None:
            graph, watermark = self.graph_from_table()
        else:
            graph.remove([int(k) for k in hidden])
            graph.upsert([int(k) for k in keys], matrix)
        self.publish(graph, watermark)
        del graph
        index.sync_now()
        return True

    def maybe_compact(self) -> None:
        """Past ``ann_delta_max`` changes, write a new base file in a background thread
        (when no update holds the lock; it writes one itself). Caller holds the index's
        state lock."""
        index = self.index
        store = index.store
        limit = index.settings.ann_delta_max
        if not isinstance(store, LayeredStore) or limit <= 0 or store.changes <= limit:
            return
        if index.update_lock.held or (self._compactor is not None and self._compactor.is_alive()):
            return
        now = time.monotonic()
        if now < self._compact_not_before:
            return
        self._compact_not_before = now + COMPACT_RETRY_SECONDS
        self._compactor = threading.Thread(
            target=self._compact_in_background, name="paperfeed-ann-compact", daemon=True
        )
        self._compactor.start()

    def _compact_in_background(self) -> None:
        try:
            with self.index.update_lock.hold(self.index.db, wait=False):
                self.compact()
        except UpdateBusy:
            log.info("ANN delta past ann_delta_max: left to the update that holds the lock")
        except Exception:
            log.exception("writing a new ANN base file failed")


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    """Progress with rate and ETA on stderr when enabled (a bar on a terminal, a line every
    few seconds elsewhere); yields ``advance(n)``."""
    if not enabled or total == 0:
        yield lambda n: None
        return
    with Progress("embedding", total, "paper") as progress:
        yield progress.update
