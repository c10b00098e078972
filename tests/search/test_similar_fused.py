"""Similar papers as the site serves them: the embedding's neighbours fused with a keyword
"more like this" search of the paper's most distinctive words (``search/similar.py``), the
same two functions the CSFCube benchmark calls. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from paperfeed.config import Settings
from paperfeed.search import similar
from paperfeed.search.embedder import Embedder
from paperfeed.search.keyword import get_keyword_index
from paperfeed.search.vectors import get_vector_search
from paperfeed.store.db import Database
from tests.factories import add_paper
from tests.search.vector_corpus import embedder, seed_topics

__all__ = ["embedder"]


def test_distinctive_terms_prefers_rare_repeated_words() -> None:
    words = [
        "the",
        "graph",
        "graph",
        "of",
        "a",
        "quokka",
        "model",
        "model",
        "model",
        "in",
        "2024",
        "x",
    ]
    freq = {"graph": 10, "model": 900, "quokka": 1}
    # quokka: 1 × idf(1); graph: 2 × idf(10); model: 3 × idf(900) of 1,000 papers
    assert similar.distinctive_terms(words, freq, 1000, limit=2) == ["graph", "quokka"]
    picked = similar.distinctive_terms(words, freq, 1000, limit=10)
    assert picked == ["graph", "quokka", "model"]  # no stopword, number or one-letter word
    # a word no paper holds counts as the rarest; equal weights keep the text's order
    assert similar.distinctive_terms(["beta", "alpha"], {}, 50, limit=2) == ["beta", "alpha"]


def test_fuse_similar_weights_the_keyword_list() -> None:
    semantic, keyword = [1, 2, 3], [3, 4]
    fused = similar.fuse_similar(semantic, keyword, weight=1.0, k=1.0)
    # 3: 1/4 + 1/2; 1: 1/2; 2 and 4: 1/3 each, the tie in the semantic list's order
    assert [pid for pid, _ in fused] == [3, 1, 2, 4]
    assert fused[0][1] == pytest.approx(0.75)
    light = similar.fuse_similar(semantic, keyword, weight=0.1, k=1.0)
    assert [pid for pid, _ in light] == [1, 2, 3, 4]
    assert [pid for pid, _ in similar.fuse_similar([], [7, 8])] == [7, 8]


@pytest.fixture
def site(settings: Settings, database: Database, embedder: Embedder) -> dict[str, int]:
    ids = seed_topics(database)
    ids["zorb-a"] = add_paper(
        database,
        "2504.30001",
        title="Zorblatt Sieves for Quinoxic Lattices",
        abstract="We count quinoxic lattices with a zorblatt sieve and bound their growth.",
    )
    ids["zorb-b"] = add_paper(
        database,
        "2504.30002",
        title="Cooking Rice in Zorblatt Pots",
        abstract="Quinoxic grains of rice cook evenly in a zorblatt pot on a low flame.",
    )
    vectors = get_vector_search(settings)
    assert vectors is not None
    vectors.update(database)
    get_keyword_index(settings).update(database)
    return ids


def test_more_like_this_finds_the_papers_sharing_rare_words(
    settings: Settings, site: dict[str, int]
) -> None:
    text = (
        "Zorblatt Sieves for Quinoxic Lattices. We count quinoxic lattices with a zorblatt sieve."
    )
    found = similar.more_like_this(settings, site["zorb-a"], text)
    assert found[0] == site["zorb-b"]
    assert site["zorb-a"] not in found


def test_served_order_is_the_fusion_of_both_lists(
    settings: Settings, database: Database, site: dict[str, int]
) -> None:
    vectors = get_vector_search(settings)
    assert vectors is not None
    pid = site["zorb-a"]
    semantic = [p for p, _ in vectors.similar(pid, similar.CANDIDATES)]
    keyword = similar.more_like_this(
        settings,
        pid,
        "Zorblatt Sieves for Quinoxic Lattices "
        "We count quinoxic lattices with a zorblatt sieve and bound their growth.",
    )
    assert keyword and keyword[0] == site["zorb-b"]
    expected = similar.fuse_similar(semantic, keyword)[:5]
    got = similar.similar_to_id(database, settings, pid, 5)
    assert [(i.arxiv_id, i.score) for i in got] == [
        (arxiv_for(site, p), round(s, 4)) for p, s in expected
    ]
    assert got[0].arxiv_id == "2504.30002"  # the paper sharing its rare words comes first


def test_without_a_keyword_index_the_semantic_list_is_served(
    settings: Settings, database: Database, site: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_: Settings) -> None:
        raise OSError("index unreadable")

    monkeypatch.setattr("paperfeed.search.keyword.get_keyword_index", broken)
    vectors = get_vector_search(settings)
    assert vectors is not None
    pid = site["zorb-a"]
    semantic = [p for p, _ in vectors.similar(pid, 4)]
    got = similar.similar_to_id(database, settings, pid, 4)
    assert [i.arxiv_id for i in got] == [arxiv_for(site, p) for p in semantic]


def arxiv_for(site: dict[str, int], paper_id: int) -> str:
    key = next(k for k, v in site.items() if v == paper_id)
    return {"zorb-a": "2504.30001", "zorb-b": "2504.30002"}.get(key, key)
