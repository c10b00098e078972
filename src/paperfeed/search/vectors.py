"""The semantic index: paper embeddings stored durably, and nearest neighbours over them.

- **Durable copy**: ``paper_embeddings`` (one row per paper: float32 vector, the model that
  made it, a hash of the embedded text, the paper's ``modified_at`` when last checked).
  ``update`` embeds only papers that are new, whose text changed (content hash) or that were
  embedded by another model; a paper modified otherwise (upvotes) is only marked checked.
  Work is committed every ``embedding_commit_every`` papers, so an interrupted run resumes
  where it stopped.
- **Derived index**, per node and per worker: below ``ann_exact_threshold`` embeddings an
  exact in-memory scan; above it a usearch HNSW graph persisted under
  ``<data dir>/index/`` and rebuilt from the stored embeddings when missing. Every worker
  catches up with the table (by the ``embedded_at`` watermark, plus a key-set reconciliation
  when counts disagree) at most every ``ann_refresh_seconds``.

Interface used by keyword/hybrid search and the CLI (``paperfeed index ...``):
``get_vector_search(settings)`` → ``VectorSearch`` or None when the embedder cannot load.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.search.ann import ExactStore, HnswStore
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

log = logging.getLogger(__name__)

# Papers loaded from the table per query while (re)building the in-memory index.
LOAD_CHUNK = 5_000
# With allowed_ids at most this long, the answer is an exact scan over them.
ALLOWED_EXACT_MAX = 5_000
# Embeddings this much older than the watermark are read again on every catch-up.
SYNC_OVERLAP = dt.timedelta(seconds=60)


def _blob(vector: Vectors) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _unblob(data: bytes, dim: int) -> Vectors:
    return np.frombuffer(data, dtype="<f4", count=dim).astype(np.float32)


class VectorSearch:
    """Embeddings of this site's papers and similarity search over them (thread-safe)."""

    def __init__(self, settings: Settings, embedder: Embedder, db: Database) -> None:
        self.settings = settings
        self.embedder = embedder
        self.db = db
        self.model = embedder.model
        self.dim = embedder.dim
        safe = self.model.replace(":", "-").replace("/", "-")
        self.index_path = settings.data_dir / "index" / f"vectors-{safe}.usearch"
        self._lock = threading.RLock()
        self._store: ExactStore | HnswStore | None = None
        self._watermark: dt.datetime | None = None
        self._db_state: tuple[int, dt.datetime | None] | None = None
        self._checked = 0.0
        self._queries: OrderedDict[str, Vectors] = OrderedDict()
        self._queries_lock = threading.Lock()

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
        """Papers nearest to a unit vector, as ``(paper id, cosine)``, best first."""
        store = self._fresh()
        with self._lock:
            if allowed_ids is not None and isinstance(store, HnswStore):
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

    def _fresh(self, force: bool = False) -> ExactStore | HnswStore:
        """The in-memory index, caught up with the table at most every refresh interval."""
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
                self._sync()
                self._checked = time.monotonic()
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

    def _sync(self) -> bool:
        """Catch the in-memory index up with the table; True when it changed. Caller holds
        the lock."""
        with self.db.read() as session:
            state = self._table_state(session)
            if self._store is not None and state == self._db_state:
                return False
            count = state[0]
            changed = False
            if self._store is None or self._want_ann(count) != isinstance(self._store, HnswStore):
                self._store, self._watermark = self._initial_store(count)
                changed = True
            changed |= self._load_since(session, self._watermark)
            if len(self._store) != count:
                changed |= self._reconcile(session)
            self._db_state = state
        return changed

    def _initial_store(self, count: int) -> tuple[ExactStore | HnswStore, dt.datetime | None]:
        if not self._want_ann(count):
            return ExactStore(self.dim), None
        loaded = HnswStore.load(
            self.index_path, expansion_search=self.settings.ann_expansion_search
        )
        if loaded is not None:
            store, meta = loaded
            if meta.get("model") == self.model and store.dim == self.dim:
                raw = meta.get("watermark")
                return store, dt.datetime.fromisoformat(raw) if raw else None
        return self._new_hnsw(), None

    def _load_since(self, session: Session, since: dt.datetime | None) -> bool:
        """Upsert every embedding made at or after ``since`` (all when None)."""
        assert self._store is not None
        changed = False
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
                break
            ids = [int(r[0]) for r in rows]
            matrix = np.stack([_unblob(r[1], r[2]) for r in rows])
            self._store.upsert(ids, matrix)
            newest = max(r[3] for r in rows)
            if self._watermark is None or newest > self._watermark:
                self._watermark = newest
            last_id = ids[-1]
            changed = True
        return changed

    def _reconcile(self, session: Session) -> bool:
        """Make the index hold exactly the table's keys (deletions, lost updates)."""
        assert self._store is not None
        table = set(
            session.scalars(
                select(PaperEmbedding.paper_id).where(PaperEmbedding.model == self.model)
            )
        )
        held = {int(k) for k in self._store.keys()}  # noqa: SIM118
        extra = sorted(held - table)
        missing = sorted(table - held)
        self._store.remove(extra)
        for start in range(0, len(missing), LOAD_CHUNK):
            chunk = missing[start : start + LOAD_CHUNK]
            rows = session.execute(
                select(PaperEmbedding.paper_id, PaperEmbedding.vector, PaperEmbedding.dim).where(
                    PaperEmbedding.paper_id.in_(chunk), PaperEmbedding.model == self.model
                )
            ).all()
            if rows:
                self._store.upsert(
                    [int(r[0]) for r in rows], np.stack([_unblob(r[1], r[2]) for r in rows])
                )
        return bool(extra or missing)

    def _save(self) -> None:
        """Persist the ANN graph (exact mode keeps nothing on disk). Caller holds the lock."""
        if isinstance(self._store, HnswStore):
            self._store.save(
                self.index_path,
                {
                    "model": self.model,
                    "dim": self.dim,
                    "watermark": self._watermark.isoformat() if self._watermark else None,
                    "count": len(self._store),
                    "saved_at": utcnow().isoformat(),
                },
            )

    # --- keeping the embeddings up to date -------------------------------------------------

    def _pending_filter(self) -> Any:
        return or_(
            PaperEmbedding.paper_id.is_(None),
            PaperEmbedding.model != self.model,
            PaperEmbedding.paper_modified_at.is_(None),
            Paper.modified_at > PaperEmbedding.paper_modified_at,
        )

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

    def update(self, db: Database, progress: bool = False) -> dict[str, int]:
        """Embed new and changed papers (committing every ``embedding_commit_every``), then
        bring this node's index up to date and save it."""
        stats = self._embed_pending(db, progress=progress, everything=False)
        stats.update(self._refresh_index(db, rebuild=False))
        return stats

    def rebuild(
        self, db: Database, progress: bool = False, reembed: bool = False
    ) -> dict[str, int]:
        """Build this node's index again from the stored embeddings (after embedding what
        is pending). ``reembed`` also embeds every paper again."""
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
        with self._lock:
            if rebuild:
                self._store = None
                self.index_path.unlink(missing_ok=True)
                self.index_path.with_suffix(".json").unlink(missing_ok=True)
            self.db = db
            changed = self._sync()
            self._checked = time.monotonic()
            if changed or rebuild or not self.index_path.exists():
                self._save()
            assert self._store is not None
            size = len(self._store)
        self._record_state(db, size)
        return {"index_size": size}

    def _record_state(self, db: Database, size: int) -> None:
        name = f"vectors:{self.settings.search_node}"[:128]
        info = {
            "model": self.model,
            "index": self._store.kind if self._store is not None else "none",
            "size": size,
            "path": str(self.index_path),
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
        """Papers, embedded (by the current model), pending, model, and this worker's index."""
        with db.read() as session:
            papers = int(session.scalar(select(func.count()).select_from(Paper)) or 0)
            embedded, _ = self._table_state(session)
            pending = self._count_pending(session)
        with self._lock:
            if self.db is not db:
                self.db = db
            store = self._fresh(force=True)
            size, kind, nbytes = len(store), store.kind, store.nbytes
        return {
            "papers": papers,
            "embedded": embedded,
            "pending": pending,
            "model": self.model,
            "index": kind,
            "index_size": size,
            "index_mib": round(nbytes / 2**20, 1),
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
