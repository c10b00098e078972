"""The ANN index shared by the workers of a node: a memory-mapped base file, each worker's
delta over it, new base files picked up, and the lock between semantic updates. Real model,
invented corpus, the HNSW path forced (``ann_exact_threshold=1``); SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.ann_layered import LayeredStore
from paperfeed.search.embedder import Embedder
from paperfeed.search.vector_updates import UpdateBusy, UpdateLock
from paperfeed.search.vectors import VectorSearch
from paperfeed.store.db import Database
from paperfeed.store.models import Paper, utcnow
from tests.conftest import REPO
from tests.factories import add_paper
from tests.search.vector_corpus import embedder, seed_topics

__all__ = ["embedder"]  # the session fixture, imported so pytest finds it

MOLECULES = "graph networks that read chemical bonds"


def make(
    settings: Settings, embedder: Embedder, database: Database, **changes: Any
) -> VectorSearch:
    changes.setdefault("ann_refresh_seconds", 0.0)
    changes.setdefault("ann_exact_threshold", 1)
    return VectorSearch(settings.model_copy(update=changes), embedder, database)


def layered(vs: VectorSearch) -> LayeredStore:
    store = vs._store
    assert isinstance(store, LayeredStore)
    return store


def found(vs: VectorSearch, query: str, k: int = 10) -> list[int]:
    return [pid for pid, _ in vs.search(query, k)]


def embed_only(vs: VectorSearch, db: Database) -> None:
    """What another node's updater does: embeddings into the table, no file on this node."""
    with vs.update_lock.hold(db):
        vs.updates.embed_pending(db, progress=False, everything=False)


def test_workers_map_the_base_file_and_follow_the_table_with_a_delta(
    settings: Settings, database: Database, embedder: Embedder
) -> None:
    ids = seed_topics(database)
    updater = make(settings, embedder, database)
    updater.update(database)
    worker = make(settings, embedder, database)
    assert ids["2504.20003"] in found(worker, MOLECULES, 2)
    base = layered(worker)
    assert base.base.readonly and base.changes == 0 and len(base) == 8
    assert base.path == updater.index_path

    # a new paper, a changed text, a deleted paper; the base file stays as it is
    new = add_paper(
        database,
        "2504.20010",
        title="Atoms and Bonds as Graphs for Medicine Design",
        abstract="Neural message passing over molecules predicts drug safety.",
    )
    changed = ids["2504.20001"]
    with database.write() as s:
        s.execute(
            update(Paper)
            .where(Paper.id == changed)
            .values(
                title="Quadruped Robots Climb Staircases",
                abstract="Four-legged robots learn to walk up stairs with rewards.",
                modified_at=utcnow() + dt.timedelta(seconds=1),
            )
        )
        s.delete(s.get(Paper, ids["2504.20005"]))
    embed_only(updater, database)

    assert new in found(worker, MOLECULES, 3)  # found in the delta
    store = layered(worker)
    assert store.version == base.version  # still the same file, mapped
    assert set(store.delta.keys().tolist()) == {new, changed}
    assert store.tombstones == {changed, ids["2504.20005"]}
    # the changed paper's new embedding replaced the old one
    assert {p for p, _ in worker.similar(changed, 2)} == {ids["2504.20007"], ids["2504.20008"]}
    assert changed not in found(worker, "faster text generation with a draft model", 2)
    # the deleted paper is never returned
    assert ids["2504.20005"] not in found(worker, "wheat yield from satellites", 10)
    assert len(found(worker, "anything", 20)) == 8

    # another worker (process) maps the same file and answers the same
    other = make(settings, embedder, database)
    assert other.search(MOLECULES, 8) == worker.search(MOLECULES, 8)

    # `index update` writes a new base file; the workers map it and drop their delta
    assert updater.update(database)["index_size"] == 8
    assert updater.index_path != base.path and not base.path.exists()  # type: ignore[union-attr]
    before = worker.search(MOLECULES, 8)
    assert layered(worker).version != base.version and layered(worker).changes == 0
    assert layered(worker).path == updater.index_path
    assert [p for p, _ in worker.search(MOLECULES, 8)] == [p for p, _ in before]
    assert changed not in found(worker, "faster text generation with a draft model", 2)
    assert ids["2504.20005"] not in found(worker, "wheat yield from satellites", 10)
    status = worker.status(database)
    assert status["index"] == "hnsw" and status["delta"] == 0 and status["index_size"] == 8


def test_a_worker_writes_a_new_base_file_past_ann_delta_max(
    settings: Settings, database: Database, embedder: Embedder
) -> None:
    seed_topics(database)
    updater = make(settings, embedder, database)
    updater.update(database)
    worker = make(settings, embedder, database, ann_delta_max=1)
    found(worker, MOLECULES)
    first = layered(worker).version
    new = [
        add_paper(database, f"2504.2002{i}", title=f"Bond graphs of molecules, part {i}")
        for i in range(2)
    ]
    embed_only(updater, database)
    assert set(new) <= set(found(worker, MOLECULES))  # past the limit: a background write
    assert worker.updates._compactor is not None
    worker.updates._compactor.join(30)
    assert set(new) <= set(found(worker, MOLECULES))
    assert layered(worker).version != first and layered(worker).changes == 0
    assert len(layered(worker).base) == 10
    # the updater (another process) maps the worker's file at its next refresh
    found(updater, MOLECULES)
    assert layered(updater).version == layered(worker).version


_OTHER_PROCESS = """
import sys
from pathlib import Path
from paperfeed.search.vector_updates import UpdateBusy, UpdateLock
from paperfeed.store.db import Database
db = Database(sys.argv[1])
try:
    with UpdateLock(Path(sys.argv[2])).hold(db, wait=False):
        pass
except UpdateBusy:
    sys.exit(3)
"""


def _other_process_takes(settings: Settings, database: Database) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, database.url, str(settings.data_dir / "index")],
        cwd=REPO,
        timeout=60,
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 3), done.stderr
    return done.returncode


def test_update_lock_across_threads_and_processes(settings: Settings, database: Database) -> None:
    first, second = UpdateLock(settings.data_dir / "index"), UpdateLock(settings.data_dir / "index")
    got: list[str] = []

    def wait_for_it() -> None:
        with second.hold(database):
            got.append("second")

    with first.hold(database):
        with first.hold(database):  # re-entrant in its thread
            assert first.held
        with pytest.raises(UpdateBusy), second.hold(database, wait=False):
            pass
        assert _other_process_takes(settings, database) == 3
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.3)
        assert got == []  # waits while the first holds it
    waiter.join(10)
    assert got == ["second"] and not first.held
    assert _other_process_takes(settings, database) == 0


def test_concurrent_updates_embed_each_paper_once(
    settings: Settings, database: Database, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_topics(database)
    texts: list[str] = []
    real = embedder.embed

    def slow(batch: Any) -> Any:
        texts.extend(batch)
        time.sleep(0.2)  # both updaters are surely running at once
        return real(batch)

    monkeypatch.setattr(embedder, "embed", slow)
    updaters = [make(settings, embedder, database) for _ in range(2)]
    results: list[dict[str, int]] = []
    start = threading.Barrier(2)

    def run(vs: VectorSearch) -> None:
        start.wait()
        results.append(vs.update(database))

    threads = [threading.Thread(target=run, args=(vs,)) for vs in updaters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(texts) == 8  # each paper embedded once
    assert sorted(r["embedded"] for r in results) == [0, 8]
    assert all(r["index_size"] == 8 for r in results)
    index_dir = settings.data_dir / "index"
    assert len(list(index_dir.glob("vectors-*.usearch"))) == 1  # one file, complete
    assert all(layered(vs).path == updaters[0].index_path for vs in updaters)


def test_update_without_waiting_skips_when_another_runs(
    settings: Settings,
    database: Database,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_topics(database)
    vs = make(settings, embedder, database)
    monkeypatch.setattr(hybrid, "vector_search", lambda s: vs)
    embed_only(vs, database)  # embeddings in the table, no base file on this node yet
    add_paper(database, "2504.20011", title="Robots that fold laundry")
    holder = UpdateLock(settings.data_dir / "index")
    with holder.hold(database):
        with pytest.raises(UpdateBusy):
            vs.update(database, wait=False)
        result = CliRunner().invoke(cli, ["index", "update", "--no-wait"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert "index semantic: skipped another process is updating the semantic index" in (
            result.output
        )
        assert "index keyword: indexed 9" in result.output
        # the holder would be writing the base file: meanwhile searches are keyword-only
        search = hybrid.search(database, settings, "robots")
        assert search.mode == "keyword" and search.notice == hybrid.SEMANTIC_UNAVAILABLE
        assert vs.status(database)["index"] == "being written elsewhere"
    out = CliRunner().invoke(cli, ["index", "update", "--no-wait"], catch_exceptions=False)
    assert "index semantic: embedded 1, unchanged 0, index_size 9" in out.output
    assert hybrid.search(database, settings, "robots").mode == "hybrid"
