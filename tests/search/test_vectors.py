"""The semantic index with the real all-MiniLM-L6-v2 model on an invented corpus: neighbours
make sense, updates are incremental and resumable, the ANN graph persists and rebuilds, exact
search below the threshold, allowed_ids, the query cache. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, update

from paperfeed.config import Settings
from paperfeed.search import vectors as vectors_module
from paperfeed.search.ann_layered import LayeredStore
from paperfeed.search.embedder import Embedder, paper_text
from paperfeed.search.vectors import VectorSearch, get_vector_search
from paperfeed.store import embeddings
from paperfeed.store.db import Database
from paperfeed.store.models import IndexState, Paper, PaperEmbedding, utcnow
from tests.factories import add_paper
from tests.search.vector_corpus import TOPIC_OF, TOPICS, embedder, partner, seed_topics

__all__ = ["embedder"]  # the session fixture, imported so pytest finds it


def make(
    settings: Settings, embedder: Embedder, database: Database, **changes: Any
) -> VectorSearch:
    changes.setdefault("ann_refresh_seconds", 0.0)
    return VectorSearch(settings.model_copy(update=changes), embedder, database)


def embedded_count(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(PaperEmbedding)) or 0)


def test_embedder_unit_vectors_and_meaning(embedder: Embedder) -> None:
    texts = [paper_text(t, a) for papers in TOPICS.values() for _, t, a in papers]
    vecs = embedder.embed(texts)
    assert vecs.shape == (8, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    sims = vecs @ vecs.T
    for i in range(0, 8, 2):  # each paper is nearest to its topic partner
        row = sims[i].copy()
        row[i] = -1
        assert int(row.argmax()) == i + 1
    # order of the input does not change a vector (length-sorted batches are put back)
    again = embedder.embed(texts[::-1])[::-1]
    assert np.allclose(again, vecs, atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)
    # A query is embedded on its own single-threaded session: the same vector.
    one = embedder.embed_one(texts[3])
    assert one.shape == (384,) and np.allclose(one, vecs[3], atol=1e-5)


@pytest.mark.slow  # loads the reference model too
def test_onnx_agrees_with_the_reference_model(embedder: Embedder) -> None:
    if embedder.backend == "torch":
        pytest.skip("ONNX only: the torch backend is the reference itself")
    from sentence_transformers import SentenceTransformer

    from paperfeed.search.minilm import model_path

    reference = SentenceTransformer(str(model_path()), device="cpu")
    texts = [paper_text(t, a) for papers in TOPICS.values() for _, t, a in papers]
    want = reference.encode(texts, normalize_embeddings=True)
    got = embedder.embed(texts)
    assert float((want * got).sum(axis=1).min()) > 0.98


def test_search_and_similar_make_sense(
    settings: Settings, database: Database, embedder: Embedder
) -> None:
    ids = seed_topics(database)
    vs = make(settings, embedder, database)
    assert vs.update(database) == {"embedded": 8, "unchanged": 0, "index_size": 8}
    top = vs.search("making large language models generate text faster", 2)
    assert {TOPIC_OF[a] for a, i in ids.items() if i in {pid for pid, _ in top}} == {"decoding"}
    (best, score), *_ = vs.search("predicting harvests with pictures from space", 3)
    assert TOPIC_OF[next(a for a, i in ids.items() if i == best)] == "crops"
    assert 0 < score <= 1.0001
    for arxiv_id, paper_id in ids.items():
        hits = vs.similar(paper_id, 3)
        assert paper_id not in {pid for pid, _ in hits}
        assert hits[0][0] == ids[partner(arxiv_id)]
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert vs.similar(999_999, 3) == []


def test_update_embeds_only_new_or_changed_papers(
    settings: Settings, database: Database, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seed_topics(database)
    vs = make(settings, embedder, database)
    assert vs.update(database)["embedded"] == 8
    assert vs.status(database)["pending"] == 0
    assert vs.update(database) == {"embedded": 0, "unchanged": 0, "index_size": 8}

    embedded: list[str] = []
    real = embedder.embed

    def spy(texts: Any) -> Any:
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(embedder, "embed", spy)
    paper = ids["2504.20001"]
    later = utcnow() + dt.timedelta(seconds=1)
    with database.write() as s:  # upvotes move modified_at but not the text
        s.execute(
            update(Paper)
            .where(Paper.id == ids["2504.20003"])
            .values(imported_upvotes=5, modified_at=later)
        )
        s.execute(
            update(Paper)
            .where(Paper.id == paper)
            .values(
                abstract="Quadruped robots learn to walk up staircases with rewards.",
                modified_at=later,
            )
        )
    add_paper(
        database,
        "2504.20009",
        title="Satellite Pictures Tell Farmers Their Harvest",
        abstract="Orbital imagery estimates how much grain a field will yield.",
    )
    status = vs.status(database)
    assert status["pending"] == 3 and status["papers"] == 9 and status["embedded"] == 8
    assert vs.update(database) == {"embedded": 2, "unchanged": 1, "index_size": 9}
    assert len(embedded) == 2 and any("staircases" in t for t in embedded)
    assert vs.status(database)["pending"] == 0
    # the changed paper moved to the robots' neighbourhood
    near = {pid for pid, _ in vs.similar(paper, 2)}
    assert near == {ids["2504.20007"], ids["2504.20008"]}

    with database.write() as s:  # a deleted paper leaves the index (cascade + reconcile)
        s.delete(s.get(Paper, ids["2504.20005"]))
    assert ids["2504.20005"] not in {p for p, _ in vs.search("wheat yield from satellites", 9)}
    assert embedded_count(database) == 8


def test_interrupted_update_resumes(
    settings: Settings, database: Database, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_topics(database)
    vs = make(settings, embedder, database, embedding_commit_every=3)
    real = embedder.embed
    calls = {"n": 0}

    def flaky(texts: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as if the operator pressed Ctrl-C mid-run
        return real(texts)

    monkeypatch.setattr(embedder, "embed", flaky)
    with pytest.raises(KeyboardInterrupt):
        vs.update(database)
    assert embedded_count(database) == 3  # the first batch was committed
    assert vs.status(database)["pending"] == 5
    assert vs.update(database)["embedded"] == 5  # only the rest
    assert embedded_count(database) == 8


def test_exact_below_threshold_no_index_file(
    settings: Settings, database: Database, embedder: Embedder
) -> None:
    seed_topics(database)
    vs = make(settings, embedder, database)  # default threshold: 20,000
    vs.update(database)
    status = vs.status(database)
    assert status["index"] == "exact" and status["index_size"] == 8
    assert vs.index_path is None and not vs.pointer_path.exists()


def test_ann_index_persisted_reloaded_and_rebuilt(
    settings: Settings, database: Database, embedder: Embedder
) -> None:
    ids = seed_topics(database)
    vs = make(settings, embedder, database, ann_exact_threshold=1)
    vs.update(database)
    assert vs.status(database)["index"] == "hnsw"
    first = vs.index_path
    assert first is not None and first.exists() and vs.pointer_path.exists()
    assert first.parent == settings.data_dir / "index"
    query = "graph networks that read chemical bonds"
    before = vs.search(query, 4)
    assert {TOPIC_OF[a] for a, i in ids.items() if i in {p for p, _ in before[:2]}} == {"molecules"}

    # another worker (or a restart) maps the saved graph instead of rebuilding it
    other = make(settings, embedder, database, ann_exact_threshold=1)
    assert [p for p, _ in other.search(query, 4)] == [p for p, _ in before]
    assert isinstance(other._store, LayeredStore) and other._store.path == first
    with database.read() as s:
        state = s.get(IndexState, f"vectors:{settings.search_node}")
        assert state is not None and state.info and state.info["size"] == 8

    # lost or corrupt file: rebuilt from the stored embeddings, no re-embedding
    garbage = first.with_name("garbage.tmp")  # replaced, not truncated: workers map it
    garbage.write_bytes(b"garbage")
    garbage.replace(first)
    third = make(settings, embedder, database, ann_exact_threshold=1)
    assert [p for p, _ in third.search(query, 4)] == [p for p, _ in before]
    rewritten = vs.index_path
    assert rewritten is not None and rewritten != first and not first.exists()
    rewritten.unlink()
    assert third.rebuild(database) == {"embedded": 0, "unchanged": 0, "index_size": 8}
    assert vs.index_path is not None and vs.index_path.exists()
    fourth = make(settings, embedder, database, ann_exact_threshold=1)
    assert [p for p, _ in fourth.search(query, 4)] == [p for p, _ in before]

    # a new paper reaches a worker's index through the table, without a restart
    new = add_paper(
        database,
        "2504.20010",
        title="Atoms and Bonds as Graphs for Medicine Design",
        abstract="Neural message passing over molecules predicts drug safety.",
    )
    vs.update(database)
    assert new in {p for p, _ in fourth.search(query, 3)}


@pytest.mark.parametrize("threshold", [20_000, 1], ids=["exact", "hnsw"])
def test_allowed_ids_restrict_results(
    settings: Settings, database: Database, embedder: Embedder, threshold: int
) -> None:
    ids = seed_topics(database)
    vs = make(settings, embedder, database, ann_exact_threshold=threshold)
    vs.update(database)
    allowed = [ids["2504.20005"], ids["2504.20007"], ids["2504.20008"]]
    hits = vs.search("robots walking on legs", 5, allowed_ids=allowed)
    assert {p for p, _ in hits} == set(allowed)
    assert hits[0][0] in {ids["2504.20007"], ids["2504.20008"]}
    assert vs.search("robots", 5, allowed_ids=[]) == []
    assert vs.search("robots", 5, allowed_ids=[999_999]) == []
    # the filtered ANN path (more allowed ids than the exact-scan limit)
    many = list(ids.values()) + list(range(10**6, 10**6 + 6000))
    assert {p for p, _ in vs.search("robots", 3, allowed_ids=many)} <= set(ids.values())


def test_query_embeddings_are_cached(
    settings: Settings, database: Database, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_topics(database)
    vs = make(settings, embedder, database, embedding_query_cache_size=2)
    vs.update(database)
    calls: list[str] = []
    real = embedder.embed_one

    def spy(text: str) -> Any:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(embedder, "embed_one", spy)
    first = vs.search("legged robots", 3)
    assert vs.search("  legged   robots ", 3) == first
    assert calls == ["legged robots"]
    vs.search("wheat", 1)
    vs.search("molecules", 1)  # evicts "legged robots" (cache of 2)
    vs.search("legged robots", 1)
    assert calls.count("legged robots") == 2


def test_get_vector_search_is_cached_per_process(settings: Settings, database: Database) -> None:
    first = get_vector_search(settings)
    assert first is not None and get_vector_search(settings) is first
    off = settings.model_copy(update={"embedding_backend": "off"})
    assert get_vector_search(off) is None
    assert vectors_module.get_vector_search(off) is None


def test_index_commands_drive_the_semantic_index(
    settings: Settings, database: Database, embedder: Embedder
) -> None:
    from click.testing import CliRunner

    from paperfeed.cli import cli

    seed_topics(database)
    run = CliRunner().invoke
    out = run(cli, ["index", "update"], catch_exceptions=False).output
    assert "index semantic: embedded 8, unchanged 0, index_size 8" in out
    out = run(cli, ["index", "status"], catch_exceptions=False).output
    assert "papers 8, embedded 8, pending 0, model all-MiniLM-L6-v2" in out
    out = run(cli, ["index", "rebuild"], catch_exceptions=False).output
    assert "index semantic: embedded 0, unchanged 0, index_size 8" in out


def test_a_worker_checks_for_new_embeddings_beside_its_searches(
    settings: Settings, database: Database, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past its refresh interval, a worker's search answers from the index it has and the
    check runs in a background thread; the next search sees what it found. The check scans
    the table for the model's state only when the table's cheap mark moved."""
    ids = seed_topics(database)
    updater = make(settings, embedder, database)
    updater.update(database)
    worker = make(settings, embedder, database, ann_refresh_seconds=3600.0)
    assert ids["2504.20007"] in [pid for pid, _ in worker.search("legged robots", 8)]
    new = add_climber(database, "2504.20099", "ladders")
    updater.update(database)
    checking = threading.Event()
    scans: list[str] = []
    real = embeddings.table_state

    def slow_scan(session: Any, model: str) -> Any:
        if threading.current_thread().name == "paperfeed-ann-refresh":  # not the updater's
            scans.append(model)
        checking.wait(30)  # the search must answer before the check has read anything
        return real(session, model)

    monkeypatch.setattr("paperfeed.search.vectors.table_state", slow_scan)
    assert new not in found_after_a_check(worker, lambda: checking.set())
    assert new in [pid for pid, _ in worker.search("legged robots", 10)]
    assert len(scans) == 1
    found_after_a_check(worker)  # nothing changed: no scan
    assert len(scans) == 1
    newer = add_climber(database, "2504.20098", "trees")
    updater.update(database)
    found_after_a_check(worker)
    assert len(scans) == 2
    assert newer in [pid for pid, _ in worker.search("legged robots", 10)]


def add_climber(database: Database, arxiv_id: str, what: str) -> int:
    return add_paper(
        database,
        arxiv_id,
        title=f"Legged Robots Learn to Climb {what.title()}",
        abstract=f"A quadruped robot learns to climb {what} with reinforcement learning.",
    )


def found_after_a_check(worker: VectorSearch, then: Any = None) -> list[int]:
    """A search once the refresh interval has passed (its answer), then ``then()``, and the
    background check it started waited for."""
    worker._checked -= 7200.0
    found = [pid for pid, _ in worker.search("legged robots", 10)]
    if then is not None:
        then()
    for thread in threading.enumerate():
        if thread.name == "paperfeed-ann-refresh":
            thread.join(30)
    return found


def test_the_query_session_gives_bit_identical_vectors(embedder: Embedder) -> None:
    """The query session's options (no memory pattern) change how ONNX Runtime plans its
    memory, never a bit of a vector: queries of every length, each embedded twice (a shape
    seen before and a new one), equal those of a session with the default options."""
    if embedder._make_session is None:
        pytest.skip("ONNX backends only")
    default = embedder._make_session(1)
    words = [w for _, t, a in (p for ps in TOPICS.values() for p in ps) for w in f"{t} {a}".split()]
    texts = [" ".join(words[:n]) for n in (1, 2, 3, 7, 20, 45, 90, 200)]
    texts += ["", "x" * 300, "émigré 数据 — ∑"]
    for _ in range(2):
        for text in texts:
            want = np.zeros((1, 384), dtype=np.float32)
            embedder._run_onnx(default, [text], want)
            assert embedder.embed_one(text).tobytes() == want[0].tobytes(), text
