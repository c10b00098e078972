"""The search service: fusion, filters before ranking, fallback to keyword-only, ids."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.fusion import fuse, rrf
from paperfeed.search.hybrid import SEMANTIC_UNAVAILABLE, search
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from tests.factories import add_paper
from tests.search.conftest import CODE, HARBOR, LANTERN, OLD, QUOKKA, FakeVectors


def ids(result: hybrid.SearchResult) -> list[str]:
    return [i.arxiv_id for i in result.items]


def test_rrf() -> None:
    fused = rrf([{1: 1, 2: 2}, {2: 1, 3: 2}], 60)
    assert max(fused, key=lambda pid: fused[pid]) == 2
    assert fused[1] == 1 / 61 > fused[3] == 1 / 62


def test_keyword_only_when_the_embedder_is_unavailable(
    settings: Settings, database: Database, corpus: dict[str, int], no_vectors: None
) -> None:
    result = search(database, settings, "recurrent planners")
    assert result.mode == "keyword"
    assert result.notice == SEMANTIC_UNAVAILABLE
    # Any word may match; papers with more of them, and in the title, come first.
    assert set(ids(result)[:2]) == {LANTERN, OLD} and ids(result)[2:] == [QUOKKA]


def test_keyword_only_when_the_embedder_fails(
    settings: Settings,
    database: Database,
    corpus: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeVectors([], fail=True)
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: fake)
    result = search(database, settings, "harbor")
    assert (result.mode, result.notice, ids(result)) == ("keyword", SEMANTIC_UNAVAILABLE, [HARBOR])


def test_hybrid_fuses_semantic_candidates(
    settings: Settings,
    database: Database,
    corpus: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The embedder thinks HARBOR is closest to "planners" (no keyword match at all).
    fake = FakeVectors([corpus[HARBOR], corpus[OLD]])
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: fake)
    result = search(database, settings, "planners")
    assert result.mode == "hybrid" and result.notice is None
    assert ids(result)[0] == OLD  # found by both
    assert HARBOR in ids(result) and QUOKKA in ids(result)
    assert fake.calls == [("planners", settings.search_candidates, None)]


def test_filters_restrict_semantic_candidates_before_ranking(
    settings: Settings,
    database: Database,
    corpus: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeVectors([corpus[HARBOR], corpus[QUOKKA], corpus[LANTERN]])
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: fake)
    result = search(database, settings, "planners cat:cs.AI")
    assert set(ids(result)) == {LANTERN, OLD}
    allowed = fake.calls[-1][2]
    assert allowed is not None and set(allowed) == {corpus[LANTERN], corpus[OLD]}
    # Phrases and authors restrict them too.
    result = search(database, settings, 'author:lovelace "container scheduling"')
    assert ids(result) == [HARBOR]


def test_broad_filters_oversample_then_check(
    settings: Settings,
    database: Database,
    corpus: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hybrid, "ALLOWED_CAP", 1)  # cs has 4 papers: too many to list
    fake = FakeVectors([corpus[HARBOR], corpus[CODE]])
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: fake)
    result = search(database, settings, "robot cat:cs")
    assert ids(result) == [CODE]
    assert fake.calls[-1][2] is None and fake.calls[-1][1] > settings.search_candidates


def test_filters_before_truncation_with_semantic(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    many = [
        add_paper(database, f"2504.{i + 1:05d}", title="Gizmo gizmo", abstract="x")
        for i in range(25)
    ]
    target = add_paper(
        database, "2504.00099", title="Other", abstract="one gizmo", categories=["cs.CL"]
    )
    fake = FakeVectors([*many, target])
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: fake)
    small = settings.model_copy(update={"search_candidates": 5})
    result = search(database, small, "gizmo cat:cs.CL", page_size=5)
    assert ids(result) == ["2504.00099"]


def test_results_are_joined_back_to_the_database(
    settings: Settings, database: Database, corpus: dict[str, int], no_vectors: None
) -> None:
    assert ids(search(database, settings, "harbor")) == [HARBOR]
    with database.write() as s:  # deleted after indexing, index not yet updated
        s.execute(delete(Paper).where(Paper.id == corpus[HARBOR]))
    assert ids(search(database, settings, "harbor")) == []


@pytest.mark.parametrize("whole_rows_max", [100, 0], ids=["one-statement", "two-statements"])
def test_pages_and_ties_by_upvotes(
    settings: Settings,
    database: Database,
    no_vectors: None,
    whole_rows_max: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same pages whether the join-back takes whole papers with the sort keys (first
    pages) or the page's papers in a second statement (deep pages)."""
    monkeypatch.setattr(hybrid, "WHOLE_ROWS_MAX", whole_rows_max)
    for i in range(7):
        add_paper(database, f"2504.{i + 1:05d}", title="Same words", imported_upvotes=i)
    first = search(database, settings, "same words", page_size=3, count=True)
    assert ids(first) == ["2504.00007", "2504.00006", "2504.00005"]
    assert first.total == 7 and first.every_word == 7 and first.has_more and first.pages == 3
    third = search(database, settings, "same words", page=3, page_size=3)
    assert ids(third) == ["2504.00001"] and not third.has_more


def test_arxiv_id_and_did_you_mean(
    settings: Settings, database: Database, corpus: dict[str, int], no_vectors: None
) -> None:
    result = search(database, settings, f"https://arxiv.org/abs/{HARBOR}v2")
    assert (result.mode, ids(result)) == ("id", [HARBOR])
    missing = search(database, settings, "2503.99999")
    assert missing.items == [] and missing.notice and "2503.99999" in missing.notice
    hinted = search(database, settings, f"cranes arXiv:{HARBOR}")
    assert hinted.did_you_mean is not None and hinted.did_you_mean.arxiv_id == HARBOR


def test_search_sees_papers_added_after_the_first_search(
    fresh_settings: Settings, database: Database, corpus: dict[str, int], no_vectors: None
) -> None:
    assert ids(search(database, fresh_settings, "zebra")) == []
    add_paper(database, "2503.10077", title="Zebra stripes as barcodes")
    assert ids(search(database, fresh_settings, "zebra")) == ["2503.10077"]


def test_feed_items_newest_first(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    items = hybrid.feed_items(database, settings, "planners", 10)
    got = [i.arxiv_id for i in items]
    assert set(got[:2]) == {LANTERN, QUOKKA} and got[2:] == [OLD]  # newest first


def test_a_big_backlog_is_caught_up_in_the_background(
    settings: Settings,
    database: Database,
    corpus: dict[str, int],
    no_vectors: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from paperfeed.search.keyword import get_keyword_index

    monkeypatch.setattr(hybrid, "INLINE_SYNC_MAX", 2)  # 5 papers pending: too many to wait for
    search(database, settings, "harbor")  # answers at once, whatever the index holds
    index = get_keyword_index(settings)
    for _ in range(100):
        if index.num_docs() == 5:
            break
        time.sleep(0.05)
    assert ids(search(database, settings, "harbor")) == [HARBOR]


def test_papers_of_a_named_author_rank_above_semantic_neighbours(settings: Settings) -> None:
    """The semantic side knows nothing of names: its best (1, 2) would come between the
    keyword side's papers by the author the query names (10, 11, 12) without the lift."""
    keyword = [(10, 9.0), (11, 8.0), (12, 7.0), (13, 6.0)]
    semantic = [(1, 0.9), (2, 0.8), (13, 0.7), (10, 0.1)]
    plain, _ = fuse(keyword, semantic, settings, True)
    assert plain.index(1) < plain.index(11)  # what happened to "Kaiming He"
    ranked, scores = fuse(keyword, semantic, settings, True, named={10, 11, 12})
    assert ranked[:3] == [10, 11, 12]
    assert scores[13] < scores[12]
