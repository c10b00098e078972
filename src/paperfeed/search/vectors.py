"""The semantic index: paper embeddings stored durably, and nearest neighbours over them.

- **Durable copy**: ``paper_embeddings`` (one row per paper: float32 vector, the model that
  made it, a hash of the embedded text, the paper's ``modified_at`` when last checked).
  ``update`` embeds only papers that are new, whose text changed (content hash) or that were
  embedded by another model; a paper modified otherwise (upvotes) is only marked checked.
  Work is committed every ``embedding_commit_every`` papers, so an interrupted run resumes
  where it stopped.
- **Derived index**, per node: below ``ann_exact_threshold`` embeddings an exact in-memory
  scan in each worker. Above it a usearch HNSW graph in a **base file** under
  ``<data dir>/index/`` (a versioned file named by ``vectors-<model>.json``, with the
  watermark, model and dimension), which every worker of the node memory-maps read-only
  (``view=True``): its pages are shared through the page cache, so N workers cost one copy.
  Each worker keeps only a small in-memory **delta** (an exact store of the embeddings newer
  than the file) and **tombstones** (file entries whose embedding was removed or replaced),
  caught up with the table (by the ``embedded_at`` watermark, plus a key-set reconciliation
  when counts disagree) at most every ``ann_refresh_seconds``; at the same interval it
  notices a new base file (the pointer changed) and maps it, dropping the delta it covers.
  A new base file is written (base + delta, to a temporary name, then renamed) by
  ``paperfeed index update``/``rebuild`` whenever the table moved, and by a worker in the
  background when its delta passes ``ann_delta_max`` (on a node where no update runs).
- **Update lock**: embedding papers and writing the base file happen under one lock shared
  by every process and host of the database (PostgreSQL: a session advisory lock on a
  dedicated connection; SQLite: an ``flock`` on ``<database>-indexlock``), so two updaters
  never embed the same papers or write the file at once; the second waits, or with
  ``wait=False`` raises :class:`UpdateBusy`.

Interface used by keyword/hybrid search and the CLI (``paperfeed index ...``):
``get_vector_search(settings)`` → ``VectorSearch`` or None when the embedder cannot load.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.search.ann import (
    ExactStore,
    HnswStore,
    LayeredStore,
    publish_base,
    read_pointer,
    remove_bases,
    remove_stale_temps,
)
from paperfeed.search.embedder import (
    Embedder,
    EmbedderUnavailable,
    Vectors,
    content_hash,
    get_embedder,
    paper_text,
)
from paperfeed.store.db import Database, get_database
from paperfeed.store.models import IndexState, Paper, PaperEmbedding, utcnow

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock on SQLite
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Papers loaded from the table per query while (re)building the in-memory index.
LOAD_CHUNK = 5_000
# With allowed_ids at most this long, the answer is an exact scan over them.
ALLOWED_EXACT_MAX = 5_000
# Embeddings this much older than the watermark are read again on every catch-up.
SYNC_OVERLAP = dt.timedelta(seconds=60)
# A worker whose background write of a new base file failed or found the lock taken tries
# again after this long.
COMPACT_RETRY_SECONDS = 60.0
# PostgreSQL advisory lock key of semantic index updates ("pfvector").
UPDATE_LOCK_KEY = 0x7066766563746F72

Store = ExactStore | LayeredStore


def _blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _unblob(data: bytes, dim: int) -> Vectors:
    return np.frombuffer(data, dtype="<f4", count=dim).astype(np.float32)


class UpdateBusy(RuntimeError):
    """Another process (or thread) is updating the semantic index, and the caller would not
    wait."""


class IndexBuilding(RuntimeError):
    """There is no base file yet and another process is writing one: semantic search is off
    (keyword only) until it is published."""


class UpdateLock:
    """One semantic-index updater at a time, across threads, processes and hosts sharing the
    database: a session-level ``pg_advisory_lock`` on a dedicated connection (PostgreSQL), or
    an ``flock`` on a file beside the database (SQLite; in ``fallback_dir`` when the database
    has no file). Re-entrant within one thread of one instance."""

    def __init__(self, fallback_dir: Path) -> None:
        self.fallback_dir = fallback_dir
        self._mutex = threading.RLock()
        self._depth = 0
        self._conn: Connection | None = None
        self._fd: int | None = None

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
            if self._depth == 0:
                self._acquire(db, wait)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()
        finally:
            self._mutex.release()

    def lock_path(self, db: Database) -> Path:
        path = db.url.split("///", 1)[1] if "///" in db.url else ""
        if not path or path == ":memory:" or path.startswith("file:"):
            return self.fallback_dir / ".vectors-update.lock"
        return Path(path.split("?", 1)[0] + "-indexlock")

    def _acquire(self, db: Database, wait: bool) -> None:
        busy = "another process is updating the semantic index"
        waiting = "another process is updating the semantic index: waiting for it to finish"
        if not db.is_sqlite:
            conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                key = {"key": UPDATE_LOCK_KEY}
                if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
                    if not wait:
                        raise UpdateBusy(busy)
                    log.warning(waiting)
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), key)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            return
        if fcntl is None:  # pragma: no cover
            return
        path = self.lock_path(db)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                if not wait:
                    raise UpdateBusy(busy) from exc
                log.warning(waiting)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPDATE_LOCK_KEY})
            except Exception:
                conn.invalidate()  # its session ends, and the lock with it
            finally:
                conn.close()
        fd, self._fd = self._fd, None
        if fd is not None:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class VectorSearch:
    """Embeddings of this site's papers and similarity search over them (thread-safe)."""

    def __init__(self, settings: Settings, embedder: Embedder, db: Database) -> None:
        self.settings = settings
        self.embedder = embedder
        self.db = db
        self.model = embedder.model
        self.dim = embedder.dim
        safe = self.model.replace(":", "-").replace("/", "-")
        self.index_dir = settings.data_dir / "index"
        self.stem = f"vectors-{safe}"
        # Names the current base file (versioned) with its watermark, model and dimension.
        self.pointer_path = self.index_dir / f"{self.stem}.json"
        self.update_lock = UpdateLock(self.index_dir)
        # A base file's temporary (~1 GB) left by a writer killed mid-write; later writes
        # remove them too.
        remove_stale_temps(self.index_dir)
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._watermark: dt.datetime | None = None
        self._db_state: tuple[int, dt.datetime | None] | None = None
        self._pointer_seen: tuple[int, int, int] | None = None
        self._checked = 0.0
        self._compactor: threading.Thread | None = None
        self._compact_not_before = 0.0
        self._queries: OrderedDict[str, Vectors] = OrderedDict()
        self._queries_lock = threading.Lock()

    @property
    def index_path(self) -> Path | None:
        """The base file the pointer names now (None when there is none)."""
        meta = read_pointer(self.pointer_path)
        return None if meta is None else self.index_dir / str(meta["file"])

    # --- queries ---------------------------------------------------------------------------

    def embed_query(self, query: str) -> Vectors:
        """The query's vector, from the LRU cache when it was asked before."""
        key = " ".join(query.split())
        size = self.settings.embedding_query_cache_size
        with self._queries_lock:
            hit = self._queries.get(key)
            if hit is not None:
                self._queries.move_to_end(key)
                return hit
        vector = self.embedder.embed_one(key)
        vector.setflags(write=False)
        if size > 0:
            with self._queries_lock:
                self._queries[key] = vector
                while len(self._queries) > size:
                    self._queries.popitem(last=False)
        return vector

    def search(
        self, query: str, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Papers nearest to ``query`` as ``(paper id, cosine)``, best first. With
        ``allowed_ids`` only those papers (exact scan when few, filtered ANN otherwise)."""
        if k <= 0 or not query.strip() or (allowed_ids is not None and not len(allowed_ids)):
            return []
        vector = self.embed_query(query)
        return self.nearest(vector, k, allowed_ids)

    def similar(self, paper_id: int, k: int) -> list[tuple[int, float]]:
        """The ``k`` papers nearest to paper ``paper_id`` (itself excluded); [] when it has
        no embedding yet."""
        if k <= 0:
            return []
        store = self._fresh()
        with self._lock:
            vector = store.get(paper_id)
        if vector is None:
            vector = self._stored_vector(paper_id)
            if vector is None:
                return []
        hits = self.nearest(vector, k + 1, None)
        return [(pid, score) for pid, score in hits if pid != paper_id][:k]

    def vector_of(self, paper_id: int) -> Vectors | None:
        """The stored embedding of a paper (None when not embedded yet)."""
        return self._stored_vector(paper_id)

    def nearest(
        self, vector: Vectors, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """Papers nearest to a unit vector, as ``(paper id, cosine)``, best first. With
        ``allowed_ids`` only those papers (exact scan when few, filtered ANN otherwise)."""
        if k <= 0 or (allowed_ids is not None and not len(allowed_ids)):
            return []
        store = self._fresh()
        with self._lock:
            if allowed_ids is not None and isinstance(store, LayeredStore):
                if len(allowed_ids) <= ALLOWED_EXACT_MAX:
                    keys, scores = store.exact(vector, k, list(allowed_ids))
                else:
                    keys, scores = store.search(vector, k, allowed_ids)
            else:
                keys, scores = store.search(vector, k, allowed_ids)
        return [(int(key), float(score)) for key, score in zip(keys, scores, strict=True)]

    def _stored_vector(self, paper_id: int) -> Vectors | None:
        with self.db.read() as session:
            row = session.execute(
                select(PaperEmbedding.vector, PaperEmbedding.dim).where(
                    PaperEmbedding.paper_id == paper_id, PaperEmbedding.model == self.model
                )
            ).one_or_none()
        return None if row is None else _unblob(row[0], row[1])

    # --- the derived index -------------------------------------------------------------------

    def _fresh(self, force: bool = False, background: bool = True) -> Store:
        """The index, caught up with the table and the node's base file at most every
        refresh interval. ``background``: a delta past ``ann_delta_max`` starts the writing
        of a new base file in a background thread."""
        now = time.monotonic()
        store = self._store
        if (
            store is not None
            and not force
            and now - self._checked < self.settings.ann_refresh_seconds
        ):
            return store
        with self._lock:
            stale = time.monotonic() - self._checked >= self.settings.ann_refresh_seconds
            if self._store is None or force or stale:
                try:
                    self._sync()
                finally:
                    self._checked = time.monotonic()
                if background:
                    self._maybe_compact()
            assert self._store is not None
            return self._store

    def _table_state(self, session: Session) -> tuple[int, dt.datetime | None]:
        count, newest = session.execute(
            select(func.count(), func.max(PaperEmbedding.embedded_at)).where(
                PaperEmbedding.model == self.model
            )
        ).one()
        return int(count), newest

    def _want_ann(self, count: int) -> bool:
        return count >= self.settings.ann_exact_threshold

    def _new_hnsw(self) -> HnswStore:
        s = self.settings
        return HnswStore(
            self.dim,
            connectivity=s.ann_connectivity,
            expansion_add=s.ann_expansion_add,
            expansion_search=s.ann_expansion_search,
        )

    def _set_store(self, store: Store, watermark: dt.datetime | None) -> None:
        self._store = store
        self._watermark = watermark
        self._db_state = None

    def _sync(self) -> bool:
        """Catch the index up with the table (and map a newer base file); True when it
        changed. Caller holds ``_lock``."""
        with self.db.read() as session:
            state = self._table_state(session)
            count = state[0]
            changed = False
            if not self._want_ann(count):
                if not isinstance(self._store, ExactStore):
                    self._set_store(ExactStore(self.dim), None)
                    changed = True
            else:
                mapped = (
                    self._newer_base()
                    if isinstance(self._store, LayeredStore)
                    else self._base_or_build()
                )
                if mapped is not None:
                    self._set_store(*mapped)
                    changed = True
            assert self._store is not None
            if not changed and state == self._db_state:
                return False
            changed |= self._load_since(session, self._watermark)
            if len(self._store) != count:
                changed |= self._reconcile(session)
            self._db_state = state
        return changed

    # --- the base file ---------------------------------------------------------------------

    def _pointer_signature(self) -> tuple[int, int, int] | None:
        try:
            st = self.pointer_path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_pointer(self) -> dict[str, Any] | None:
        """The pointer's metadata when it names a base file of this model and dimension."""
        meta = read_pointer(self.pointer_path)
        if meta is None or meta.get("model") != self.model or meta.get("dim") != self.dim:
            return None
        return meta

    def _map(self, meta: dict[str, Any]) -> tuple[LayeredStore, dt.datetime | None] | None:
        """The base file ``meta`` names, memory-mapped read-only, with an empty delta."""
        path = self.index_dir / str(meta["file"])
        base = HnswStore.open(path, view=True, expansion_search=self.settings.ann_expansion_search)
        if base is None or base.dim != self.dim:
            return None
        raw = meta.get("watermark")
        watermark = dt.datetime.fromisoformat(raw) if raw else None
        return LayeredStore(base, version=str(meta["version"]), path=path), watermark

    def _newer_base(self) -> tuple[LayeredStore, dt.datetime | None] | None:
        """The base file mapped, when the pointer names another version than the one in use
        (None otherwise, or when it cannot be mapped: the one in use goes on serving)."""
        seen = self._pointer_signature()
        if seen is None or seen == self._pointer_seen:
            return None
        meta = self._read_pointer()
        if meta is None:
            return None
        self._pointer_seen = seen
        if isinstance(self._store, LayeredStore) and meta["version"] == self._store.version:
            return None
        mapped = self._map(meta)
        if mapped is None:
            log.warning("cannot map the ANN file %s; serving the previous one", meta["file"])
            self._pointer_seen = None  # tried again at the next refresh
        return mapped

    def _base_or_build(self) -> tuple[LayeredStore, dt.datetime | None]:
        """The node's base file mapped; written from the table first when there is none."""
        seen = self._pointer_signature()
        meta = self._read_pointer()
        mapped = self._map(meta) if meta is not None else None
        if mapped is not None:
            self._pointer_seen = seen
            return mapped
        try:
            with self.update_lock.hold(self.db, wait=False):
                meta = self._read_pointer()  # written meanwhile by the lock's last holder?
                mapped = self._map(meta) if meta is not None else None
                if mapped is None:
                    self._publish(*self._graph_from_table())
                    meta = self._read_pointer()
                    mapped = self._map(meta) if meta is not None else None
                if mapped is None:
                    raise RuntimeError(f"the ANN file written under {self.index_dir} is unreadable")
                self._pointer_seen = self._pointer_signature()
                return mapped
        except UpdateBusy as exc:
            raise IndexBuilding(
                "the ANN index file is being written by another process; semantic search "
                "resumes when it is published"
            ) from exc

    def _graph_from_table(self) -> tuple[HnswStore, dt.datetime | None]:
        """A new in-memory graph of every stored embedding, and the newest ``embedded_at``."""
        graph = self._new_hnsw()
        watermark: dt.datetime | None = None
        with self.db.read() as session:
            for ids, matrix, newest in self._stored_chunks(session, None):
                graph.upsert(ids, matrix)
                if watermark is None or newest > watermark:
                    watermark = newest
        return graph, watermark

    def _publish(self, graph: HnswStore, watermark: dt.datetime | None) -> None:
        """Write ``graph`` as the node's new base file. Caller holds the update lock."""
        publish_base(
            graph,
            self.index_dir,
            self.stem,
            {
                "model": self.model,
                "dim": self.dim,
                "watermark": watermark.isoformat() if watermark else None,
                "saved_at": utcnow().isoformat(),
            },
        )

    def _compact(self) -> bool:
        """Write the base file again with this worker's delta and tombstones applied, then
        map it; False when there was nothing to apply. Caller holds the update lock (not
        ``_lock``: searches go on meanwhile)."""
        with self._lock:
            store = self._store
            if not isinstance(store, LayeredStore) or not store.changes:
                return False
            meta = self._read_pointer()
            if meta is None or meta["version"] != store.version:
                # Another process published a newer file meanwhile: map that one.
                self._sync()
                return False
            hidden, keys, matrix = store.snapshot()
            watermark, path = self._watermark, store.path
        s = self.settings
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
            graph, watermark = self._graph_from_table()
        else:
            graph.remove([int(k) for k in hidden])
            graph.upsert([int(k) for k in keys], matrix)
        self._publish(graph, watermark)
        del graph
        with self._lock:
            self._sync()
            self._checked = time.monotonic()
        return True

    def _maybe_compact(self) -> None:
        """Past ``ann_delta_max`` changes, write a new base file in a background thread
        (when no update holds the lock; it writes one itself). Caller holds ``_lock``."""
        store = self._store
        limit = self.settings.ann_delta_max
        if not isinstance(store, LayeredStore) or limit <= 0 or store.changes <= limit:
            return
        if self.update_lock.held or (self._compactor is not None and self._compactor.is_alive()):
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
            with self.update_lock.hold(self.db, wait=False):
                self._compact()
        except UpdateBusy:
            log.info("ANN delta past ann_delta_max: left to the update that holds the lock")
        except Exception:
            log.exception("writing a new ANN base file failed")

    # --- catching up with the table --------------------------------------------------------

    def _load_since(self, session: Session, since: dt.datetime | None) -> bool:
        """Upsert every embedding made at or after ``since`` (all when None)."""
        assert self._store is not None
        changed = False
        for ids, matrix, newest in self._stored_chunks(session, since):
            self._store.upsert(ids, matrix)
            if self._watermark is None or newest > self._watermark:
                self._watermark = newest
            changed = True
        return changed

    def _stored_chunks(
        self, session: Session, since: dt.datetime | None
    ) -> Iterator[tuple[list[int], Vectors, dt.datetime]]:
        """This model's stored embeddings (those made at or after ``since``; all when None)
        in paper-id order, ``LOAD_CHUNK`` at a time: (ids, vectors, newest ``embedded_at``)."""
        last_id = 0
        while True:
            query = (
                select(
                    PaperEmbedding.paper_id,
                    PaperEmbedding.vector,
                    PaperEmbedding.dim,
                    PaperEmbedding.embedded_at,
                )
                .where(PaperEmbedding.model == self.model, PaperEmbedding.paper_id > last_id)
                .order_by(PaperEmbedding.paper_id)
                .limit(LOAD_CHUNK)
            )
            if since is not None:
                # An overlap catches writes that committed after a later one was seen.
                query = query.where(PaperEmbedding.embedded_at >= since - SYNC_OVERLAP)
            rows = session.execute(query).all()
            if not rows:
                return
            ids = [int(r[0]) for r in rows]
            yield ids, np.stack([_unblob(r[1], r[2]) for r in rows]), max(r[3] for r in rows)
            last_id = ids[-1]

    def _reconcile(self, session: Session) -> bool:
        """Make the index hold exactly the table's keys (deletions, lost updates)."""
        assert self._store is not None
        table = np.fromiter(
            session.scalars(
                select(PaperEmbedding.paper_id).where(PaperEmbedding.model == self.model)
            ),
            dtype=np.int64,
        )
        held = self._store.keys()
        extra = np.setdiff1d(held, table)
        missing = np.setdiff1d(table, held)
        self._store.remove([int(k) for k in extra])
        for start in range(0, len(missing), LOAD_CHUNK):
            chunk = [int(k) for k in missing[start : start + LOAD_CHUNK]]
            rows = session.execute(
                select(PaperEmbedding.paper_id, PaperEmbedding.vector, PaperEmbedding.dim).where(
                    PaperEmbedding.paper_id.in_(chunk), PaperEmbedding.model == self.model
                )
            ).all()
            if rows:
                self._store.upsert(
                    [int(r[0]) for r in rows], np.stack([_unblob(r[1], r[2]) for r in rows])
                )
        return bool(len(extra) or len(missing))

    # --- keeping the embeddings up to date -------------------------------------------------

    def _pending_filter(self) -> Any:
        return or_(
            PaperEmbedding.paper_id.is_(None),
            PaperEmbedding.model != self.model,
            PaperEmbedding.paper_modified_at.is_(None),
            Paper.modified_at > PaperEmbedding.paper_modified_at,
        )

    def pending(self, db: Database) -> int:
        """Papers still to embed (new, changed, or embedded by another model)."""
        with db.read() as session:
            return self._count_pending(session)

    def _count_pending(self, session: Session) -> int:
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
        """Embed new and changed papers (committing every ``embedding_commit_every``), then
        bring this node's index up to date and write its base file again. Holds the update
        lock throughout; with ``wait=False`` raises :class:`UpdateBusy` instead of waiting
        for another updater."""
        with self.update_lock.hold(db, wait=wait):
            stats = self._embed_pending(db, progress=progress, everything=False)
            stats.update(self._refresh_index(db, rebuild=False))
        return stats

    def rebuild(
        self, db: Database, progress: bool = False, reembed: bool = False, *, wait: bool = True
    ) -> dict[str, int]:
        """Build this node's index again from the stored embeddings (after embedding what
        is pending). ``reembed`` also embeds every paper again. Under the update lock, like
        :meth:`update`."""
        with self.update_lock.hold(db, wait=wait):
            stats = self._embed_pending(db, progress=progress, everything=reembed)
            stats.update(self._refresh_index(db, rebuild=True))
        return stats

    def _embed_pending(self, db: Database, *, progress: bool, everything: bool) -> dict[str, int]:
        chunk = self.settings.embedding_commit_every
        with db.read() as session:
            total = (
                int(session.scalar(select(func.count()).select_from(Paper)) or 0)
                if everything
                else self._count_pending(session)
            )
        embedded = checked = 0
        last_id = 0
        with _progress(total, progress) as bar:
            while True:
                with db.read() as session:
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
                        .limit(chunk)
                    )
                    if not everything:
                        query = query.where(self._pending_filter())
                    rows = session.execute(query).all()
                if not rows:
                    break
                last_id = int(rows[-1][0])
                todo: list[tuple[int, str, str, dt.datetime]] = []
                seen: list[dict[str, Any]] = []
                for pid, title, abstract, modified, old_hash, old_model in rows:
                    text = paper_text(title or "", abstract or "")
                    digest = content_hash(self.model, text)
                    if everything or old_hash != digest or old_model != self.model:
                        todo.append((int(pid), text, digest, modified))
                    else:
                        seen.append({"paper_id": int(pid), "paper_modified_at": modified})
                vectors = self.embedder.embed([t[1] for t in todo]) if todo else None
                now = utcnow()
                with db.write() as session:
                    if todo:
                        ids = [t[0] for t in todo]
                        session.execute(
                            delete(PaperEmbedding).where(PaperEmbedding.paper_id.in_(ids))
                        )
                        assert vectors is not None
                        session.execute(
                            insert(PaperEmbedding),
                            [
                                {
                                    "paper_id": pid,
                                    "model": self.model,
                                    "dim": self.dim,
                                    "vector": _blob(vector),
                                    "content_hash": digest,
                                    "paper_modified_at": modified,
                                    "embedded_at": now,
                                }
                                for (pid, _, digest, modified), vector in zip(
                                    todo, vectors, strict=True
                                )
                            ],
                        )
                    if seen:
                        session.execute(update(PaperEmbedding), seen)
                embedded += len(todo)
                checked += len(seen)
                bar(len(rows))
        return {"embedded": embedded, "unchanged": checked}

    def _refresh_index(self, db: Database, *, rebuild: bool) -> dict[str, int]:
        """Catch the index up and write the base file again when the table moved (from
        scratch with ``rebuild``). Caller holds the update lock."""
        with self._lock:
            self.db = db
            if rebuild:
                self._store, self._db_state, self._pointer_seen = None, None, None
        if rebuild:
            with db.read() as session:
                count, _ = self._table_state(session)
            if self._want_ann(count):
                self._publish(*self._graph_from_table())
            else:
                remove_bases(self.index_dir, self.stem)
        with self._lock:
            self._sync()
            self._checked = time.monotonic()
        self._compact()
        with self._lock:
            assert self._store is not None
            size = len(self._store)
        self._record_state(db, size)
        return {"index_size": size}

    def _record_state(self, db: Database, size: int) -> None:
        name = f"vectors:{self.settings.search_node}"[:128]
        store = self._store
        info = {
            "model": self.model,
            "index": store.kind if store is not None else "none",
            "size": size,
            "path": str(store.path) if isinstance(store, LayeredStore) else None,
            "version": store.version if isinstance(store, LayeredStore) else None,
        }
        with db.write() as session:
            row = session.get(IndexState, name)
            if row is None:
                session.add(IndexState(name=name, watermark=self._watermark, info=info))
            else:
                row.watermark = self._watermark
                row.info = info
                row.updated_at = utcnow()

    def status(self, db: Database) -> dict[str, object]:
        """Papers, embedded (by the current model), pending, model, and this process's view
        of the index: its kind and size, its private memory (MiB), the delta beside the base
        file (entries) and the mapped base file (MiB)."""
        with db.read() as session:
            papers = int(session.scalar(select(func.count()).select_from(Paper)) or 0)
            embedded, _ = self._table_state(session)
            pending = self._count_pending(session)
        with self._lock:
            if self.db is not db:
                self.db = db
            try:
                store: Store | None = self._fresh(force=True, background=False)
            except IndexBuilding:
                store = None
            layered = store if isinstance(store, LayeredStore) else None
            return {
                "papers": papers,
                "embedded": embedded,
                "pending": pending,
                "model": self.model,
                "index": store.kind if store is not None else "being written elsewhere",
                "index_size": len(store) if store is not None else 0,
                "index_mib": round(store.nbytes / 2**20, 1) if store is not None else 0.0,
                "delta": layered.changes if layered is not None else 0,
                "file_mib": round(layered.file_bytes / 2**20, 1) if layered is not None else 0.0,
            }


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    """A tqdm bar (rate and ETA) when enabled; yields ``advance(n)``."""
    if not enabled or total == 0:
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="paper", desc="embedding", smoothing=0.1) as bar:
        yield bar.update


# --- one instance per process and settings ---------------------------------------------------

_instances: dict[tuple[str, str, str], VectorSearch | None] = {}
_instances_lock = threading.Lock()


def get_vector_search(settings: Settings) -> VectorSearch | None:
    """This process's vector search for ``settings``; None when the embedder can't load
    (search then falls back to keyword only). Cheap after the first call."""
    key = (settings.sqlalchemy_url, str(Path(settings.data_dir).resolve()), _embedder_key(settings))
    if key in _instances:
        return _instances[key]
    with _instances_lock:
        if key in _instances:
            return _instances[key]
        found: VectorSearch | None
        try:
            embedder = get_embedder(settings)
        except EmbedderUnavailable as exc:
            log.warning("semantic search off: %s", exc)
            found = None
        except Exception:
            log.exception("semantic search off: the embedder failed to load")
            found = None
        else:
            found = VectorSearch(settings, embedder, get_database(settings))
        _instances[key] = found
    return found


def _embedder_key(settings: Settings) -> str:
    return (
        f"{settings.embedding_backend}/{settings.embedding_max_length}/"
        f"{settings.ann_exact_threshold}/{settings.ann_refresh_seconds}"
    )
