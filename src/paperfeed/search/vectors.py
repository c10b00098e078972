"""The semantic index's query side: paper embeddings loaded into an index per worker, and
nearest neighbours over it (with filters).

- **Durable copy**: ``paper_embeddings`` (one row per paper: float32 vector, the model that
  made it, a hash of the embedded text, the paper's ``modified_at`` when last checked),
  kept up to date by the update side (:mod:`paperfeed.search.vector_updates`).
- **Derived index**, per node: below ``ann_exact_threshold`` embeddings an exact in-memory
  scan in each worker. Above it a usearch HNSW graph in a **base file** under
  ``<data dir>/index/`` (a versioned file named by ``vectors-<model>.json``, with the
  watermark, model and dimension), which every worker of the node memory-maps read-only
  (``view=True``): its pages are shared through the page cache, so N workers cost one copy.
  Each worker keeps only a small in-memory **delta** (an exact store of the embeddings newer
  than the file) and **tombstones** (file entries whose embedding was removed or replaced),
  caught up with the table (by the ``embedded_at`` watermark, plus a key-set reconciliation
  when counts disagree) at most every ``ann_refresh_seconds``, in a background thread once
  loaded (searches never wait for the check); at the same interval it notices a new base
  file (the pointer changed) and maps it, dropping the delta it covers.
  When there is no base file yet, the first worker to look writes one (under the update
  lock); the others search keyword-only meanwhile (:class:`IndexBuilding`).

Interface used by keyword/hybrid search and the CLI (``paperfeed index ...``):
``get_vector_search(settings)`` → ``VectorSearch`` or None when the embedder cannot load.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.search.ann import ExactStore, HnswStore
from paperfeed.search.ann_files import read_pointer, remove_stale_temps
from paperfeed.search.ann_layered import LayeredStore
from paperfeed.search.embedder import Embedder, get_embedder
from paperfeed.search.minilm import EmbedderUnavailable, Vectors
from paperfeed.search.vector_rows import (
    LOAD_CHUNK,
    stored_chunks,
    stored_ids,
    table_mark,
    vectors_of,
)
from paperfeed.search.vector_updates import UpdateBusy, UpdateLock, VectorUpdater
from paperfeed.store.db import Database, get_database
from paperfeed.store.embeddings import from_blob, table_state
from paperfeed.store.models import Paper, PaperEmbedding

log = logging.getLogger(__name__)

# With allowed_ids at most this long, the answer is an exact scan over them.
ALLOWED_EXACT_MAX = 5_000

Store = ExactStore | LayeredStore
Mapped = tuple[LayeredStore, dt.datetime | None]


class IndexBuilding(RuntimeError):
    """There is no base file yet and another process is writing one: semantic search is off
    (keyword only) until it is published."""


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
        self.updates = VectorUpdater(self)
        # A base file's temporary (~1 GB) left by a writer killed mid-write; later writes
        # remove them too.
        remove_stale_temps(self.index_dir)
        # Guards the index below (the update side takes it too, for short steps).
        self.state_lock = threading.RLock()
        self._store: Store | None = None
        self._watermark: dt.datetime | None = None
        self._db_state: tuple[int, dt.datetime | None] | None = None
        self._pointer_seen: tuple[int, int, int] | None = None
        self._checked = 0.0
        # ``table_mark`` at the last background check (None: none yet).
        self._mark: tuple[int, dt.datetime | None] | None = None
        self._queries: OrderedDict[str, Vectors] = OrderedDict()
        self._queries_lock = threading.Lock()

    @property
    def index_path(self) -> Path | None:
        """The base file the pointer names now (None when there is none)."""
        meta = read_pointer(self.pointer_path)
        return None if meta is None else self.index_dir / str(meta["file"])

    @property
    def store(self) -> Store | None:
        """The index in use (None before the first search)."""
        return self._store

    @property
    def watermark(self) -> dt.datetime | None:
        """The newest ``embedded_at`` the index holds."""
        return self._watermark

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

    def warm(self) -> None:
        """Load now what the first search would: the query session and the index."""
        self.embedder.embed_one("warm up")  # not through the query cache
        self._fresh()

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
        with self.state_lock:
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
        with self.state_lock:
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
        return None if row is None else from_blob(row[0], row[1])

    # --- the update side's entry points ----------------------------------------------------

    def pending(self, db: Database) -> int:
        """Papers still to embed (new, changed, or embedded by another model)."""
        with db.read() as session:
            return self.updates.count_pending(session)

    def update(self, db: Database, progress: bool = False, *, wait: bool = True) -> dict[str, int]:
        """Embed new and changed papers (committing every ``embedding_commit_every``), then
        bring this node's index up to date and write its base file again. Holds the update
        lock throughout; with ``wait=False`` raises :class:`UpdateBusy` instead of waiting
        for another updater."""
        return self.updates.update(db, progress, wait=wait)

    def rebuild(
        self, db: Database, progress: bool = False, reembed: bool = False, *, wait: bool = True
    ) -> dict[str, int]:
        """Build this node's index again from the stored embeddings (after embedding what
        is pending). ``reembed`` also embeds every paper again. Under the update lock, like
        :meth:`update`."""
        return self.updates.rebuild(db, progress, reembed, wait=wait)

    # --- the derived index -------------------------------------------------------------------

    def _fresh(self, force: bool = False, background: bool = True) -> Store:
        """The index, caught up with the table and the node's base file at most every
        refresh interval. ``background``: once loaded, the index in use is returned and the
        check runs in a background thread (``_refresh``), and a delta past ``ann_delta_max``
        starts the writing of a new base file in one; else (and with an interval of 0) the
        check runs here."""
        now = time.monotonic()
        store = self._store
        interval = self.settings.ann_refresh_seconds
        if store is not None and not force and now - self._checked < interval:
            return store
        if store is not None and not force and background and interval > 0:
            # The check counts the table's embeddings, a scan of it (150 ms at 140,877 papers
            # on SQLite, benchmarks/RESULTS.md): beside the searches, never in one.
            self._checked = now
            threading.Thread(
                target=self._refresh, name="paperfeed-ann-refresh", daemon=True
            ).start()
            return store
        with self.state_lock:
            stale = time.monotonic() - self._checked >= self.settings.ann_refresh_seconds
            if self._store is None or force or stale:
                try:
                    self.sync()
                finally:
                    self._checked = time.monotonic()
                if background:
                    self.updates.maybe_compact()
            assert self._store is not None
            return self._store

    def _refresh(self) -> None:
        """The periodic check, in a background thread: the table is read without the lock
        (searches go on meanwhile), which is held to catch up only when there is news."""
        try:
            with self.db.read() as session:
                mark = table_mark(session)  # every model at once: cheaper than one's state
                state = table_state(session, self.model) if mark != self._mark else None
            news = state is not None and state != self._db_state
            with self.state_lock:
                if news or self._pointer_signature() != self._pointer_seen:
                    self.sync(state)
                self.updates.maybe_compact()
            self._mark = mark
        except Exception:  # the index in use goes on serving; the next check tries again
            log.exception("refreshing the vector index failed")
        finally:
            self._checked = time.monotonic()

    def want_ann(self, count: int) -> bool:
        """Whether ``count`` embeddings call for the ANN graph (else an exact scan)."""
        return count >= self.settings.ann_exact_threshold

    def forget(self) -> None:
        """Drop the index (a rebuild loads it again). Caller holds ``state_lock``."""
        self._store, self._db_state, self._pointer_seen = None, None, None

    def _set_store(self, store: Store, watermark: dt.datetime | None) -> None:
        self._store = store
        self._watermark = watermark
        self._db_state = None

    def sync_now(self) -> None:
        """Catch the index up with the table and the base file now."""
        with self.state_lock:
            self.sync()
            self._checked = time.monotonic()

    def sync(self, state: tuple[int, dt.datetime | None] | None = None) -> bool:
        """Catch the index up with the table (and map a newer base file); True when it
        changed. ``state``: the model's ``table_state`` when just read. Caller holds
        ``state_lock``."""
        with self.db.read() as session:
            state = state or table_state(session, self.model)
            count = state[0]
            changed = False
            if not self.want_ann(count):
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

    def read_pointer(self) -> dict[str, Any] | None:
        """The pointer's metadata when it names a base file of this model and dimension."""
        meta = read_pointer(self.pointer_path)
        if meta is None or meta.get("model") != self.model or meta.get("dim") != self.dim:
            return None
        return meta

    def _map(self, meta: dict[str, Any] | None) -> Mapped | None:
        """The base file ``meta`` names, memory-mapped read-only, with an empty delta."""
        if meta is None:
            return None
        path = self.index_dir / str(meta["file"])
        base = HnswStore.open(path, view=True, expansion_search=self.settings.ann_expansion_search)
        if base is None or base.dim != self.dim:
            return None
        raw = meta.get("watermark")
        watermark = dt.datetime.fromisoformat(raw) if raw else None
        return LayeredStore(base, version=str(meta["version"]), path=path), watermark

    def _newer_base(self) -> Mapped | None:
        """The base file mapped, when the pointer names another version than the one in use
        (None otherwise, or when it cannot be mapped: the one in use goes on serving)."""
        seen = self._pointer_signature()
        if seen is None or seen == self._pointer_seen:
            return None
        meta = self.read_pointer()
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

    def _base_or_build(self) -> Mapped:
        """The node's base file mapped; written from the table first when there is none."""
        seen = self._pointer_signature()
        mapped = self._map(self.read_pointer())
        if mapped is not None:
            self._pointer_seen = seen
            return mapped
        try:
            with self.update_lock.hold(self.db, wait=False):
                # Written meanwhile by the lock's last holder?
                mapped = self._map(self.read_pointer())
                if mapped is None:
                    self.updates.publish(*self.updates.graph_from_table())
                    mapped = self._map(self.read_pointer())
                if mapped is None:
                    raise RuntimeError(f"the ANN file written under {self.index_dir} is unreadable")
                self._pointer_seen = self._pointer_signature()
                return mapped
        except UpdateBusy as exc:
            raise IndexBuilding(
                "the ANN index file is being written by another process; semantic search "
                "resumes when it is published"
            ) from exc

    # --- catching up with the table --------------------------------------------------------

    def _load_since(self, session: Session, since: dt.datetime | None) -> bool:
        """Upsert every embedding made at or after ``since`` (all when None)."""
        assert self._store is not None
        changed = False
        for ids, matrix, newest in stored_chunks(session, self.model, since):
            self._store.upsert(ids, matrix)
            if self._watermark is None or newest > self._watermark:
                self._watermark = newest
            changed = True
        return changed

    def _reconcile(self, session: Session) -> bool:
        """Make the index hold exactly the table's keys (deletions, lost updates)."""
        assert self._store is not None
        table = np.fromiter(stored_ids(session, self.model), dtype=np.int64)
        held = self._store.keys()
        extra = np.setdiff1d(held, table)
        missing = np.setdiff1d(table, held)
        self._store.remove([int(k) for k in extra])
        for start in range(0, len(missing), LOAD_CHUNK):
            chunk = [int(k) for k in missing[start : start + LOAD_CHUNK]]
            found = vectors_of(session, self.model, chunk)
            if found is not None:
                self._store.upsert(*found)
        return bool(len(extra) or len(missing))

    def status(self, db: Database) -> dict[str, object]:
        """Papers, embedded (by the current model), pending, model, and this process's view
        of the index: its kind and size, its private memory (MiB), the delta beside the base
        file (entries) and the mapped base file (MiB)."""
        with db.read() as session:
            papers = int(session.scalar(select(func.count()).select_from(Paper)) or 0)
            embedded, _ = table_state(session, self.model)
            pending = self.updates.count_pending(session)
        with self.state_lock:
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
