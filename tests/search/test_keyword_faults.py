"""The keyword index survives a crash between its commit and its watermark write, and an
index that already holds a paper twice is repaired by the next update."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from paperfeed.config import Settings
from paperfeed.search import keyword_schema, keyword_sync
from paperfeed.search.keyword import KeywordIndex, keyword_index_path
from paperfeed.search.query import parse_query
from paperfeed.store.db import Database
from paperfeed.store.models import Paper


class Crash(RuntimeError):
    pass


def fresh(settings: Settings) -> KeywordIndex:
    """A new process's handle on the index (nothing cached from the crashed one)."""
    return KeywordIndex(keyword_index_path(settings), settings)


def assert_each_paper_once(index: KeywordIndex, corpus: dict[str, int]) -> None:
    assert index.num_docs() == len(corpus)
    assert all(n == 1 for n in index.id_counts().values())
    hits = [pid for pid, _ in index.search(parse_query("lanterns"), 10).hits]
    assert sorted(hits) == sorted(set(hits)) and len(hits) == 2


def test_a_crash_before_the_watermark_write_adds_nothing_twice(
    settings: Settings, database: Database, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash() -> None:
        raise Crash("killed between the index commit and state.json")

    monkeypatch.setattr(keyword_sync, "_before_state_write", crash)
    with pytest.raises(Crash):
        fresh(settings).update(database)
    monkeypatch.undo()
    crashed = fresh(settings)
    assert crashed.watermark() is None and crashed.num_docs() == len(corpus)

    stats = crashed.update(database)
    # Written over themselves (delete, then add), not added twice and repaired afterwards.
    assert stats == {"indexed": len(corpus), "deleted": 0, "documents": len(corpus)}
    assert_each_paper_once(fresh(settings), corpus)


def test_an_index_holding_papers_twice_is_repaired(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    index = fresh(settings)
    index.update(database)
    # What an older version left after such a crash: every paper added a second time.
    writer = index.index.writer(50_000_000, 1)
    with database.read() as session:
        for row in session.execute(select(*keyword_schema.COLUMNS)):
            writer.add_document(keyword_schema.document(row))
    writer.commit()
    writer.wait_merging_threads()
    assert fresh(settings).num_docs() == 2 * len(corpus)
    assert fresh(settings).is_behind(database)

    stats = fresh(settings).update(database)
    assert stats["documents"] == len(corpus)
    repaired = fresh(settings)
    assert_each_paper_once(repaired, corpus)
    assert not repaired.is_behind(database)
    with database.read() as session:
        assert set(repaired.all_ids()) == set(session.scalars(select(Paper.id)))


def test_the_same_process_updating_again_after_the_crash_adds_nothing_twice(
    settings: Settings, database: Database, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web worker's background sync that crashed in that window and runs again at once,
    with the same handle (whose searcher has not seen the crashed commit yet)."""
    index = fresh(settings)

    def crash() -> None:
        raise Crash("failed between the index commit and state.json")

    monkeypatch.setattr(keyword_sync, "_before_state_write", crash)
    with pytest.raises(Crash):
        index.update(database)
    monkeypatch.undo()
    stats = index.update(database)
    assert stats == {"indexed": len(corpus), "deleted": 0, "documents": len(corpus)}


def test_a_killed_rebuild_leaves_nothing_behind_after_the_next(
    settings: Settings, database: Database, corpus: dict[str, int]
) -> None:
    """A rebuild killed before its swap leaves ``.keyword.new-*`` (and one killed after it,
    ``.keyword.old-*``) beside the index; the next rebuild removes them, except a folder
    another live rebuild is still writing."""
    import os
    import time

    index = fresh(settings)
    index.update(database)
    path = keyword_index_path(settings)
    dead_new = path.parent / f".{path.name}.new-dead0001"
    dead_old = path.parent / f".{path.name}.old-dead0002"
    live_new = path.parent / f".{path.name}.new-live0003"
    for folder in (dead_new, dead_old, live_new):
        folder.mkdir()
        (folder / "segment").write_bytes(b"x" * 100)
    hour_ago = time.time() - keyword_sync.STALE_REBUILD_SECONDS - 60
    for item in (dead_new, dead_new / "segment"):
        os.utime(item, (hour_ago, hour_ago))

    index.rebuild(database)

    assert not dead_new.exists() and not dead_old.exists()
    assert live_new.exists()  # written to a moment ago: another process's rebuild
    leftovers = sorted(p.name for p in path.parent.glob(f".{path.name}.*"))
    assert leftovers == [live_new.name]
    assert_each_paper_once(fresh(settings), corpus)
