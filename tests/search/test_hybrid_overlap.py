"""Hybrid search embeds the query while the keyword index answers (the keyword side in a pool
thread), with the same results as one after the other (real model, invented corpus)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.embedder import Embedder
from paperfeed.search.keyword import KeywordIndex
from paperfeed.search.vectors import VectorSearch
from paperfeed.store.db import Database
from tests.search.vector_corpus import embedder, seed_topics

__all__ = ["embedder"]  # the session fixture, imported so pytest finds it

QUERIES = [
    "making large language models generate text faster",
    "robots that climb stairs",
    "predicting harvests cat:cs.LG",
    '"neural networks" toxicity of medicines',
    "molecules year:2025",
    "quadruped author:sample",
]


@pytest.fixture(params=[20_000, 1], ids=["exact", "hnsw"])
def vectors(
    request: pytest.FixtureRequest,
    settings: Settings,
    database: Database,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> VectorSearch:
    seed_topics(database)
    changes = {"ann_exact_threshold": request.param, "ann_refresh_seconds": 0.0}
    vs = VectorSearch(settings.model_copy(update=changes), embedder, database)
    vs.update(database)
    monkeypatch.setattr(hybrid, "vector_search", lambda s: vs)
    return vs


def run_all(database: Database, settings: Settings) -> list[Any]:
    out: list[Any] = []
    for query in QUERIES:
        result = hybrid.search(database, settings, query, count=True)
        out.append((result.mode, result.total, [(i.arxiv_id, i.score) for i in result.items]))
    return out


def test_results_identical_with_and_without_the_overlap(
    settings: Settings,
    database: Database,
    vectors: VectorSearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hybrid, "EMBED_CONCURRENTLY", False)
    after = run_all(database, settings)
    vectors._queries.clear()  # embedded again, this time beside the keyword search
    monkeypatch.setattr(hybrid, "EMBED_CONCURRENTLY", True)
    beside = run_all(database, settings)
    assert beside == after
    assert all(mode == "hybrid" for mode, _, _ in after)
    assert all(items for _, _, items in after)


def test_the_query_is_embedded_while_the_keyword_index_answers(
    settings: Settings,
    database: Database,
    vectors: VectorSearch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keyword_started, embedding_started = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}
    real_embed, real_search = vectors.embed_query, KeywordIndex.search

    def embed(query: str) -> Any:
        embedding_started.set()
        seen["embedding saw keyword"] = keyword_started.wait(10)
        seen["embedding thread"] = threading.current_thread()
        return real_embed(query)

    def keyword(self: KeywordIndex, *args: Any, **kwargs: Any) -> Any:
        keyword_started.set()
        seen["keyword saw embedding"] = embedding_started.wait(10)
        seen["keyword thread"] = threading.current_thread()
        return real_search(self, *args, **kwargs)

    monkeypatch.setattr(vectors, "embed_query", embed)
    monkeypatch.setattr(KeywordIndex, "search", keyword)
    result = hybrid.search(database, settings, "robots that climb stairs")
    assert result.mode == "hybrid" and result.items
    # each waited for the other: both were in flight at once
    assert seen["embedding saw keyword"] and seen["keyword saw embedding"]
    # the embedding (the longer side) in the caller's thread, the keyword side in the pool
    assert seen["embedding thread"] is threading.current_thread()
    assert seen["keyword thread"].name.startswith("paperfeed-search")


@pytest.mark.parametrize("beside", [True, False], ids=["beside", "in-series"])
def test_embedder_failure_falls_back_to_keyword(
    settings: Settings,
    database: Database,
    vectors: VectorSearch,
    monkeypatch: pytest.MonkeyPatch,
    beside: bool,
) -> None:
    def broken(query: str) -> Any:
        raise RuntimeError("model crashed")

    monkeypatch.setattr(hybrid, "EMBED_CONCURRENTLY", beside)
    keyword_only = hybrid.search(
        database, settings, "robots that climb stairs", count=True, semantic=False
    )
    monkeypatch.setattr(vectors, "embed_query", broken)
    result = hybrid.search(database, settings, "robots that climb stairs", count=True)
    assert result.mode == "keyword" and result.notice == hybrid.SEMANTIC_UNAVAILABLE
    assert result.items
    # the keyword side's answers (page, count) are whole
    assert [i.arxiv_id for i in result.items] == [i.arxiv_id for i in keyword_only.items]
    assert result.every_word == keyword_only.every_word is not None


@pytest.mark.parametrize("beside", [True, False], ids=["beside", "in-series"])
@pytest.mark.parametrize("step", ["search", "named_ids", "count"])
def test_a_keyword_side_failure_reaches_the_caller(
    settings: Settings,
    database: Database,
    vectors: VectorSearch,
    monkeypatch: pytest.MonkeyPatch,
    beside: bool,
    step: str,
) -> None:
    def broken(self: KeywordIndex, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{step} broke")

    monkeypatch.setattr(hybrid, "EMBED_CONCURRENTLY", beside)
    monkeypatch.setattr(KeywordIndex, step, broken)
    with pytest.raises(RuntimeError, match=f"{step} broke"):
        hybrid.search(database, settings, "robots by sample that climb stairs", count=True)
