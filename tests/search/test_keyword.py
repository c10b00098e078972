"""The keyword index: BM25 with the title weighted highest, filters inside the index, sync
from the database by the modified_at watermark, deletions, rebuild, status."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, update

from paperfeed.config import Settings
from paperfeed.search.keyword import KeywordIndex, get_keyword_index
from paperfeed.search.query import parse_query
from paperfeed.store.db import Database
from paperfeed.store.models import IndexState, Paper, utcnow
from tests.factories import add_paper
from tests.search.conftest import CODE, HARBOR, LANTERN, OLD, QUOKKA


def built(settings: Settings, database: Database) -> KeywordIndex:
    index = get_keyword_index(settings)
    index.update(database)
    return index


def found(index: KeywordIndex, ids: dict[str, int], text: str, **kw: object) -> list[str]:
    by_pid = {v: k for k, v in ids.items()}
    hits = index.search(parse_query(text), 10, **kw).hits  # type: ignore[arg-type]
    return [by_pid[pid] for pid, _ in hits]


def test_title_outweighs_abstract(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    index = built(settings, database)
    # "planners" is in LANTERN's and OLD's titles, only in QUOKKA's abstract.
    result = found(index, corpus, "planners")
    assert set(result[:2]) == {LANTERN, OLD} and result[2] == QUOKKA


def test_every_word_first_then_any_word(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    index = built(settings, database)
    assert found(index, corpus, "lanterns robot") == [CODE]
    hits = index.search(parse_query("lanterns cranes"), 10)
    assert not hits.conjunctive and len(hits.hits) == 3
    assert found(index, corpus, "lanterns cranes", conjunctive=True) == []


def test_stemming_phrases_and_authors(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    index = built(settings, database)
    assert found(index, corpus, "quantizing") == [QUOKKA]
    assert found(index, corpus, '"lattice lanterns"') == [LANTERN]
    assert found(index, corpus, '"lanterns lattice"') == []
    assert set(found(index, corpus, "author:lovelace")) == {LANTERN, HARBOR}
    assert found(index, corpus, 'author:"ada lovelace" cranes') == [HARBOR]
    # Name variants: last name first, an initial, accents typed or not; never across names.
    assert set(found(index, corpus, 'author:"lovelace ada"')) == {LANTERN, HARBOR}
    assert set(found(index, corpus, 'author:"a. lovelace"')) == {LANTERN, HARBOR}
    assert set(found(index, corpus, 'author:"Ada Lövelace"')) == {LANTERN, HARBOR}
    assert found(index, corpus, 'author:"ada quokka"') == []


def test_filters(settings: Settings, database: Database, corpus: dict[str, int]) -> None:
    index = built(settings, database)
    assert found(index, corpus, "planners cat:cs.CL") == [QUOKKA]
    assert set(found(index, corpus, "cat:cs")) == {LANTERN, QUOKKA, OLD, CODE}
    assert found(index, corpus, "planners year:2023") == [OLD]
    assert OLD not in found(index, corpus, "planners after:2023")
    assert found(index, corpus, "lanterns has:code") == [CODE]
    assert found(index, corpus, "has:code") == [CODE]


def test_filters_apply_before_truncation(settings: Settings, database: Database) -> None:
    # 30 papers say "widget" three times in the title; the one in cs.CL says it once in its
    # abstract and would be far below the first 5.
    for i in range(30):
        add_paper(database, f"2504.{i + 1:05d}", title="Widget widget widget", abstract="x")
    target = add_paper(
        database,
        "2504.00099",
        title="Something else",
        abstract="a widget",
        categories=["cs.CL"],
        primary_category="cs.CL",
    )
    index = built(settings, database)
    assert [pid for pid, _ in index.search(parse_query("widget cat:cs.CL"), 5).hits] == [target]


def test_sync_follows_changes_and_deletions(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    index = built(settings, database)
    assert index.update(database)["documents"] == 5
    new = add_paper(database, "2503.10077", title="Zebra stripes as barcodes")
    with database.write() as s:
        s.execute(
            update(Paper)
            .where(Paper.id == corpus[HARBOR])
            .values(title="Harbor tugboats", modified_at=utcnow() + dt.timedelta(seconds=1))
        )
        s.execute(delete(Paper).where(Paper.id == corpus[QUOKKA]))
    assert index.is_behind(database)
    stats = index.update(database)
    assert stats["deleted"] == 1 and stats["documents"] == 5
    assert [pid for pid, _ in index.search(parse_query("zebra"), 5).hits] == [new]
    assert found(index, corpus, "tugboats") == [HARBOR]
    assert found(index, corpus, '"harbor cranes"') == []  # the old title is gone
    assert index.search(parse_query("quokkas"), 5).hits == []
    assert not index.is_behind(database)
    # The watermark is mirrored in index_state for this node.
    with database.read() as s:
        row = s.get(IndexState, f"keyword:{settings.search_node}")
    assert row is not None and row.watermark is not None and row.info
    assert row.info["documents"] == 5


def test_rebuild_and_status(settings: Settings, database: Database, corpus: dict[str, int]) -> None:
    index = get_keyword_index(settings)
    status = index.status(database)
    assert status["papers"] == 5 and status["documents"] == 0 and status["pending"] == 5
    assert index.rebuild(database)["documents"] == 5
    assert found(index, corpus, "harbor") == [HARBOR]
    status = index.status(database)
    assert status["documents"] == 5 and status["pending"] == 0
    assert isinstance(status["size_bytes"], int) and status["size_bytes"] > 0
    # A second handle (another process) sees the rebuilt index.
    other = KeywordIndex(index.path, settings)
    assert other.num_docs() == 5


def test_a_lost_state_file_means_a_fresh_index(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    index = built(settings, database)
    (index.path / "state.json").unlink()
    again = KeywordIndex(index.path, settings)
    assert again.num_docs() == 0
    again.update(database)
    assert again.num_docs() == 5


def test_late_commits_inside_the_overlap_are_caught(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    index = built(settings, database)
    # Nothing changed: the overlap window is checked, nothing is re-indexed.
    assert index.update(database)["indexed"] == 0
    mark = index.watermark()
    assert mark is not None
    late = mark - dt.timedelta(seconds=10)  # stamped before the watermark, committed after
    new = add_paper(database, "2503.10088", title="Walrus tusks", modified_at=late)
    with database.write() as s:
        s.execute(
            update(Paper)
            .where(Paper.id == corpus[OLD])
            .values(title="Narwhal horns", modified_at=late)
        )
    assert index.update(database)["indexed"] == 2
    assert [pid for pid, _ in index.search(parse_query("walrus"), 5).hits] == [new]
    assert found(index, corpus, "narwhal") == [OLD]
    # Older than the overlap: not seen (a rebuild would be needed; the tests' default is 300 s).
    assert index.update(database)["indexed"] == 0
