"""The keyword index: BM25 over titles (weighted highest), authors and abstracts, in tantivy.

It is derived data. The database is the source of truth; this index lives on the node's own
disk (``settings.data_dir/index/keyword``), is built from the database, follows it by the
``papers.modified_at`` watermark, and can be thrown away and rebuilt at any time
(``paperfeed index rebuild``). Callers join its hits back to the database, so a paper that is
not committed (or was deleted since) is never shown.

Sync (:meth:`KeywordIndex.update`): every paper with ``modified_at > watermark`` is
(re)written (delete by id, then add, whenever the index holds anything: idempotent), the new
watermark is the largest ``modified_at`` seen. A transaction may commit after a later-stamped
one was already indexed, so papers stamped within ``PAPERFEED_SEARCH_SYNC_OVERLAP_SECONDS``
before the watermark are checked too: only their (id, modified_at) is read, compared with the
``modified`` fast field of the index, and the ones that differ are re-indexed. When the index
and the database then disagree on the number of papers (deletions, a lost update, a paper held
twice by an index an older version wrote), the id sets are compared: the difference is removed
or added and a paper held twice is written once again. The watermark is kept in
``state.json`` beside the index files (written after the index commit: tantivy-py has no
commit payload; a crash in between re-indexes the same papers over themselves), and mirrored
in the ``index_state`` table under ``keyword:<node>`` for ``paperfeed index status`` on any
node.

Schema: ``id`` (papers.id, fast), ``title`` and ``abstract`` (English stemming), ``authors``
(no stemming, positions for "first last"), ``category`` (raw, lower-cased, each category and
its archive: ``cs.cl`` and ``cs``), ``day`` (publication day as YYYYMMDD), ``has_code`` (0/1).
Only ``id`` is read back, from its fast field; nothing is stored, so the index stays small.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.search.query import ParsedQuery
from paperfeed.store.db import Database
from paperfeed.store.models import IndexState, Paper, utcnow

TEXT_FIELDS = ("title", "abstract", "authors")
FIELD_BOOSTS = {"title": 3.0, "authors": 2.0, "abstract": 1.0}
WRITER_HEAP = 256_000_000
BATCH = 5000
STATE_FILE = "state.json"
CONJUNCTIVE_MAX_TERMS = 8
RELOAD_CHECK_SECONDS = 1.0
# A query of more than LONG_QUERY_TERMS words (a pasted paragraph) is searched for its
# informative words only: those in at most COMMON_SHARE of the abstracts, or at least the
# LONG_QUERY_TERMS rarest. A word in one abstract of ten adds little to BM25 (low IDF) but
# costs the most: every paper that has it is scored. At 1M papers the 400 paragraph-long
# queries of the latency workload took 8.3 ms p50 in the index with every word
# (benchmarks/RESULTS.md).
LONG_QUERY_TERMS = 8
COMMON_SHARE = 0.05

# The abstract field's analyzer (tantivy's "en_stem"), to look a word's stems up.
_EN_STEM = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("id", indexed=True, fast=True)
    b.add_text_field("title", tokenizer_name="en_stem")
    b.add_text_field("abstract", tokenizer_name="en_stem")
    b.add_text_field("authors", tokenizer_name="default")
    b.add_text_field("category", tokenizer_name="raw", index_option="basic")
    b.add_integer_field("day", indexed=True, fast=True)
    b.add_integer_field("has_code", indexed=True, fast=True)
    b.add_integer_field("modified", fast=True)  # papers.modified_at, µs since the epoch
    return b.build()


def day_number(day: dt.date) -> int:
    return day.year * 10_000 + day.month * 100 + day.day


@dataclass(slots=True)
class KeywordHits:
    hits: list[tuple[int, float]]  # (papers.id, BM25 score), best first
    total: int  # papers that match (0 when not counted)
    conjunctive: bool  # every word had to match


# A rebuild's folder untouched this long was left by a rebuild that died (a live one keeps
# writing segment files into it).
STALE_REBUILD_SECONDS = 3600.0


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


class IndexBusy(RuntimeError):
    """Another process holds the index writer."""


_COLUMNS = (
    Paper.id,
    Paper.title,
    Paper.abstract,
    Paper.authors,
    Paper.categories,
    Paper.primary_category,
    Paper.published_at,
    Paper.github_repo,
    Paper.modified_at,
)


def _document(row: Any) -> tantivy.Document:
    pid, title, abstract, authors, categories, primary, published, github, _ = row
    cats: set[str] = set()
    for cat in [*(categories or []), *([primary] if primary else [])]:
        low = str(cat).lower()
        cats.add(low)
        cats.add(low.split(".", 1)[0])
    doc = tantivy.Document()
    doc.add_integer("id", pid)
    doc.add_text("title", title or "")
    doc.add_text("abstract", abstract or "")
    doc.add_text("authors", " ; ".join(str(a) for a in (authors or [])))
    for cat in sorted(cats):
        doc.add_text("category", cat)
    if published is not None:
        doc.add_integer("day", day_number(published.date()))
    doc.add_integer("has_code", 1 if github else 0)
    doc.add_integer("modified", _micros(row[-1]))
    return doc


class KeywordIndex:
    """One node's keyword index in ``path``. Safe to share between threads of a process."""

    def __init__(self, path: Path, settings: Settings) -> None:
        self.path = path
        self.settings = settings
        self.schema = _schema()
        self._lock = threading.RLock()
        self._index: tantivy.Index | None = None
        self._generation: str | None = None
        self._checked = 0.0
        self._open()

    # --- opening and state ---------------------------------------------------------------

    def _open(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        state = self.read_state()
        if state.get("schema") != _SCHEMA_VERSION or not tantivy.Index.exists(str(self.path)):
            # First use, or an index written by an older schema: start empty (rebuild fills it).
            for child in self.path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            self._index = tantivy.Index(self.schema, path=str(self.path), reuse=False)
            self._write_state({"schema": _SCHEMA_VERSION, "watermark": None, "generation": _new()})
            state = self.read_state()
        else:
            self._index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        self._generation = str(state.get("generation"))

    @property
    def index(self) -> tantivy.Index:
        """The tantivy index, reopened when a rebuild swapped the folder, and reloaded when
        another process committed (checked at most once a second)."""
        now = time.monotonic()
        if now - self._checked >= RELOAD_CHECK_SECONDS:
            self._checked = now
            with self._lock:
                generation = str(self.read_state().get("generation"))
                if generation != self._generation:
                    self._open()
                elif self._index is not None:
                    self._index.reload()
        assert self._index is not None
        return self._index

    def read_state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads((self.path / STATE_FILE).read_text())
            return state
        except (OSError, ValueError):
            return {}

    def _write_state(self, state: dict[str, Any], path: Path | None = None) -> None:
        target = (path or self.path) / STATE_FILE
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, target)

    def watermark(self) -> dt.datetime | None:
        raw = self.read_state().get("watermark")
        return dt.datetime.fromisoformat(raw) if raw else None

    def num_docs(self) -> int:
        return int(self.index.searcher().num_docs)

    # --- search ----------------------------------------------------------------------------

    def informative(self, terms: Sequence[str]) -> list[str]:
        """``terms`` without the common words of a long query (``LONG_QUERY_TERMS``)."""
        if len(terms) <= LONG_QUERY_TERMS:
            return list(terms)
        searcher = self.index.searcher()
        common = COMMON_SHARE * max(1, searcher.num_docs)

        def frequency(term: str) -> int:
            stems = _EN_STEM.analyze(term)
            return min((searcher.doc_freq("abstract", s) for s in stems), default=0)

        freq = {term: frequency(term) for term in terms}
        keep = {term for term in terms if freq[term] <= common}
        if len(keep) < LONG_QUERY_TERMS:
            keep = set(sorted(terms, key=lambda t: freq[t])[:LONG_QUERY_TERMS])
        return [term for term in terms if term in keep]

    def text_query(self, parsed: ParsedQuery, conjunctive: bool) -> tantivy.Query | None:
        parts = list(parsed.terms) if conjunctive else self.informative(parsed.terms)
        parts += ['+"' + " ".join(p) + '"' for p in parsed.phrases]
        if not parts:
            return None
        return self.index.parse_query(
            " ".join(parts),
            list(TEXT_FIELDS),
            field_boosts=FIELD_BOOSTS,
            conjunction_by_default=conjunctive,
        )

    def filter_query(self, parsed: ParsedQuery, *, phrases: bool = False) -> tantivy.Query | None:
        """The conditions every result must meet, as a query that scores nothing."""
        must: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if parsed.categories:
            cats = [tantivy.Query.term_query(self.schema, "category", c) for c in parsed.categories]
            q = (
                cats[0]
                if len(cats) == 1
                else tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in cats])
            )
            must.append((tantivy.Occur.Must, q))
        for name in parsed.authors:
            q = (
                tantivy.Query.term_query(self.schema, "authors", name[0])
                if len(name) == 1
                else tantivy.Query.phrase_query(self.schema, "authors", list(name))
            )
            must.append((tantivy.Occur.Must, q))
        if parsed.date_from or parsed.date_to:
            lo = day_number(parsed.date_from) if parsed.date_from else None
            hi = day_number(parsed.date_to) if parsed.date_to else None
            must.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.range_query(
                        self.schema,
                        "day",
                        tantivy.FieldType.Integer,
                        lo,
                        hi,
                        include_lower=True,
                        include_upper=hi is None,
                    ),
                )
            )
        if parsed.has_code:
            must.append((tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "has_code", 1)))
        if phrases:
            for phrase in parsed.phrases:
                fields = [
                    tantivy.Query.phrase_query(self.schema, f, list(phrase)) for f in TEXT_FIELDS
                ]
                must.append(
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.boolean_query([(tantivy.Occur.Should, f) for f in fields]),
                    )
                )
        if not must:
            return None
        query = must[0][1] if len(must) == 1 else tantivy.Query.boolean_query(must)
        return tantivy.Query.const_score_query(query, 0.0)

    def search(
        self,
        parsed: ParsedQuery,
        k: int,
        *,
        conjunctive: bool | None = None,
        count: bool = False,
        newest_first: bool = False,
    ) -> KeywordHits:
        """The ``k`` best papers for ``parsed``, filters applied inside the index (before
        ranking). ``conjunctive=None``: every word must match if any paper has them all,
        else any word may. ``newest_first`` orders matches by publication day instead."""
        if conjunctive is None and len(parsed.terms) > CONJUNCTIVE_MAX_TERMS:
            # A paragraph hardly ever has every word in one paper: skip the attempt.
            conjunctive = False
        if conjunctive is None:
            first = self.search(parsed, k, conjunctive=True, count=count, newest_first=newest_first)
            if first.hits or len(parsed.terms) < 2:
                return first
            return self.search(parsed, k, conjunctive=False, count=count, newest_first=newest_first)
        text = self.text_query(parsed, conjunctive)
        filters = self.filter_query(parsed)
        if text is None and filters is None:
            return KeywordHits([], 0, conjunctive)
        if text is None:
            assert filters is not None
            query, by_day = filters, True
        elif filters is None:
            query, by_day = text, newest_first
        else:
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, text), (tantivy.Occur.Must, filters)]
            )
            by_day = newest_first
        searcher = self.index.searcher()
        if by_day:
            result = searcher.search(query, k, count=count, order_by_field="day")
        else:
            result = searcher.search(query, k, count=count)
        addresses = [addr for _, addr in result.hits]
        ids = searcher.fast_field_values("id", addresses) if addresses else []
        hits = [
            (int(pid), float(score) if not by_day else 0.0)
            for (score, _), pid in zip(result.hits, ids, strict=True)
            if pid is not None
        ]
        total = int(getattr(result, "count", 0) or 0) if count else 0
        return KeywordHits(hits, total, conjunctive)

    def filter_ids(self, parsed: ParsedQuery, cap: int) -> list[int] | None:
        """Ids of every paper meeting the query's filters and phrases; None when there are
        more than ``cap`` (the caller then checks candidates one by one instead)."""
        query = self.filter_query(parsed, phrases=True)
        if query is None:
            return None
        searcher = self.index.searcher()
        result = searcher.search(query, cap + 1, count=False)
        if len(result.hits) > cap:
            return None
        ids = searcher.fast_field_values("id", [a for _, a in result.hits]) if result.hits else []
        return [int(i) for i in ids if i is not None]

    def ids_passing(self, parsed: ParsedQuery, ids: Sequence[int]) -> set[int]:
        """Which of ``ids`` meet the query's filters and phrases."""
        query = self.filter_query(parsed, phrases=True)
        if query is None or not ids:
            return set(ids)
        among = tantivy.Query.term_set_query(self.schema, "id", list(ids))
        both = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, among), (tantivy.Occur.Must, query)]
        )
        searcher = self.index.searcher()
        result = searcher.search(both, len(ids), count=False)
        found = searcher.fast_field_values("id", [a for _, a in result.hits]) if result.hits else []
        return {int(i) for i in found if i is not None}

    def all_ids(self) -> set[int]:
        return set(self.id_counts())

    def id_counts(self) -> dict[int, int]:
        """How many live documents hold each paper id (1, unless duplicated)."""
        searcher = self.index.searcher()
        n = int(searcher.num_docs)
        if not n:
            return {}
        result = searcher.search(tantivy.Query.all_query(), n, count=False)
        ids = searcher.fast_field_values("id", [a for _, a in result.hits])
        return dict(Counter(int(i) for i in ids if i is not None))

    # --- sync ------------------------------------------------------------------------------

    def _writer(self, index: tantivy.Index) -> tantivy.IndexWriter:
        try:
            return index.writer(WRITER_HEAP, _threads())
        except ValueError as exc:  # tantivy's LockBusy
            raise IndexBusy(
                f"the keyword index is being written by another process: {exc}"
            ) from exc

    def update(self, db: Database, *, progress: bool = False) -> dict[str, int]:
        """Bring the index up to the database: changed papers re-indexed, deleted ones
        removed. Returns counts: ``indexed``, ``deleted``, ``documents``."""
        with self._lock:
            index = self.index
            index.reload()  # what another process (or a crashed update of ours) committed
            state = self.read_state()
            raw = state.get("watermark")
            watermark = dt.datetime.fromisoformat(raw) if raw else None
            writer = self._writer(index)
            try:
                # Delete before add whenever the index holds anything: a crash after a commit
                # but before the watermark was written must not add the same papers again.
                # (tantivy-py has no commit payload to carry the watermark atomically.)
                replace = watermark is not None or int(index.searcher().num_docs) > 0
                indexed, newest = _write_changed(db, writer, watermark, replace=replace)
                if watermark is not None:
                    indexed += self._recheck_overlap(db, writer, index, watermark)
                writer.commit()
                _before_state_write()
                index.reload()
                deleted, added = self._reconcile(db, writer, index)
                if deleted or added:
                    writer.commit()
                    index.reload()
            finally:
                writer.wait_merging_threads()
            new_mark = max(m for m in (watermark, newest) if m) if (watermark or newest) else None
            state["watermark"] = new_mark.isoformat() if new_mark else None
            self._write_state(state)
            documents = int(index.searcher().num_docs)
        stats = {"indexed": indexed + added, "deleted": deleted, "documents": documents}
        self._record(db, new_mark, stats)
        return stats

    def _recheck_overlap(
        self,
        db: Database,
        writer: tantivy.IndexWriter,
        index: tantivy.Index,
        watermark: dt.datetime,
    ) -> int:
        """Papers stamped within the overlap before the watermark: re-index those whose
        ``modified_at`` differs from the indexed one (a transaction that committed after a
        later-stamped one was indexed). Only (id, modified_at) is read for the others."""
        since = watermark - dt.timedelta(seconds=self.settings.search_sync_overlap_seconds)
        with db.read() as session:
            window = {
                pid: _micros(modified)
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
            query = tantivy.Query.term_set_query(self.schema, "id", chunk)
            hits = searcher.search(query, len(chunk), count=False).hits
            addresses = [a for _, a in hits]
            indexed = (
                dict(
                    zip(
                        searcher.fast_field_values("id", addresses),
                        searcher.fast_field_values("modified", addresses),
                        strict=True,
                    )
                )
                if addresses
                else {}
            )
            stale += [pid for pid in chunk if indexed.get(pid) != window[pid]]
        for start in range(0, len(stale), BATCH):
            chunk = stale[start : start + BATCH]
            with db.read() as session:
                for row in session.execute(select(*_COLUMNS).where(Paper.id.in_(chunk))):
                    writer.delete_documents_by_term("id", row[0])
                    writer.add_document(_document(row))
        return len(stale)

    def _reconcile(
        self, db: Database, writer: tantivy.IndexWriter, index: tantivy.Index
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
        held = self.id_counts()
        index_ids = set(held)
        gone = index_ids - db_ids
        twice = {pid for pid, n in held.items() if n > 1 and pid in db_ids}
        for pid in gone | twice:
            writer.delete_documents_by_term("id", pid)
        missing = sorted((db_ids - index_ids) | twice)
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            with db.read() as session:
                for row in session.execute(select(*_COLUMNS).where(Paper.id.in_(chunk))):
                    writer.add_document(_document(row))
        return len(gone) + len(twice), len(missing)

    def rebuild(self, db: Database, *, progress: bool = False) -> dict[str, int]:
        """Build a new index from the whole database beside the live one, then swap it in;
        searches keep using the old one until then."""
        with self._lock:
            parent = self.path.parent
            remove_stale_rebuilds(self.path)
            fresh = parent / f".{self.path.name}.new-{uuid.uuid4().hex[:8]}"
            fresh.mkdir(parents=True)
            try:
                index = tantivy.Index(self.schema, path=str(fresh), reuse=False)
                writer = self._writer(index)
                started = utcnow()
                try:
                    indexed, newest = _write_changed(db, writer, None, replace=False)
                    writer.commit()
                finally:
                    writer.wait_merging_threads()
                # Papers changed while we read are caught by the overlap of the next update.
                mark = newest or started
                state = {"schema": _SCHEMA_VERSION, "watermark": mark.isoformat()}
                state["generation"] = _new()
                self._write_state(state, fresh)
                old = parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
                if self.path.exists():
                    os.replace(self.path, old)
                os.replace(fresh, self.path)
                shutil.rmtree(old, ignore_errors=True)
            except BaseException:
                shutil.rmtree(fresh, ignore_errors=True)
                raise
            self._open()
            documents = self.num_docs_unlocked()
        stats = {"indexed": indexed, "deleted": 0, "documents": documents}
        self._record(db, mark, stats)
        return stats

    def num_docs_unlocked(self) -> int:
        assert self._index is not None
        self._index.reload()
        return int(self._index.searcher().num_docs)

    def _record(self, db: Database, mark: dt.datetime | None, stats: dict[str, int]) -> None:
        """Mirror the watermark in ``index_state`` (``keyword:<node>``), for status."""
        name = f"keyword:{self.settings.search_node}"[:128]
        info: dict[str, Any] = {**stats, "path": str(self.path)}
        with db.write() as session:
            row = session.get(IndexState, name)
            if row is None:
                session.add(IndexState(name=name, watermark=mark, info=info, updated_at=utcnow()))
            else:
                row.watermark, row.info, row.updated_at = mark, info, utcnow()

    def status(self, db: Database) -> dict[str, object]:
        watermark = self.watermark()
        with db.read() as session:
            papers = session.scalar(select(func.count()).select_from(Paper)) or 0
            pending = (
                session.scalar(
                    select(func.count()).select_from(Paper).where(Paper.modified_at > watermark)
                )
                if watermark
                else papers
            )
        return {
            "path": str(self.path),
            "papers": papers,
            "documents": self.num_docs(),
            "pending": pending or 0,
            "watermark": watermark.isoformat() if watermark else None,
            "size_bytes": _size(self.path),
        }

    def pending(self, db: Database, limit: int) -> int:
        """Papers changed after the watermark (all of them before the first build), counted
        up to ``limit``."""
        watermark = self.watermark()
        stmt = select(Paper.id)
        if watermark is not None:
            stmt = stmt.where(Paper.modified_at > watermark)
        with db.read() as session:
            counted = session.scalar(select(func.count()).select_from(stmt.limit(limit).subquery()))
        return int(counted or 0)

    def is_behind(self, db: Database) -> bool:
        """True when the database has papers changed after the watermark, or a different
        number of papers than the index holds."""
        watermark = self.watermark()
        with db.read() as session:
            newest = session.scalar(select(func.max(Paper.modified_at)))
            count = session.scalar(select(func.count()).select_from(Paper)) or 0
        if newest is not None and (watermark is None or newest > watermark):
            return True
        return count != self.num_docs()


_SCHEMA_VERSION = 2


def _before_state_write() -> None:
    """Called between the index commit and the watermark write (a test makes it raise, to
    crash the update deterministically in that window)."""


def _new() -> str:
    return uuid.uuid4().hex


def _threads() -> int:
    return max(1, min(4, (os.cpu_count() or 1)))


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _micros(value: dt.datetime | None) -> int:
    if value is None:
        return 0
    return int((value - _EPOCH) / dt.timedelta(microseconds=1))


_EPOCH = dt.datetime(1970, 1, 1)


def _changed_rows(db: Database, since: dt.datetime | None) -> Iterator[Any]:
    """Every paper, or those changed after ``since``."""
    stmt = select(*_COLUMNS)
    if since is not None:
        stmt = stmt.where(Paper.modified_at > since)
    with db.read() as session:
        yield from session.execute(stmt.execution_options(yield_per=BATCH))


def _write_changed(
    db: Database, writer: tantivy.IndexWriter, since: dt.datetime | None, *, replace: bool
) -> tuple[int, dt.datetime | None]:
    count = 0
    newest: dt.datetime | None = None
    for row in _changed_rows(db, since):
        if replace:
            writer.delete_documents_by_term("id", row[0])
        writer.add_document(_document(row))
        modified = row[-1]
        if modified is not None and (newest is None or modified > newest):
            newest = modified
        count += 1
    return count, newest


_INDEXES: dict[Path, KeywordIndex] = {}
_INDEXES_LOCK = threading.Lock()


def keyword_index_path(settings: Settings) -> Path:
    return _resolved(settings.data_dir / "index" / "keyword")


@lru_cache(maxsize=64)
def _resolved(path: Path) -> Path:
    # Once per path and process: resolving walks the path with an lstat per component, and
    # even os.getcwd() took ~2 ms per call on this machine's file system, on every search.
    return path.resolve()


def get_keyword_index(settings: Settings) -> KeywordIndex:
    """This process's handle on the node's keyword index (opened once per path)."""
    path = keyword_index_path(settings)
    with _INDEXES_LOCK:
        found = _INDEXES.get(path)
        if found is None:
            found = _INDEXES[path] = KeywordIndex(path, settings)
        return found
