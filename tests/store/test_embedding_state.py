"""The freshness reads of ``paper_embeddings`` (``table_state``: one model's count and newest
``embedded_at``; ``table_mark``: the whole table's), the ``(model, embedded_at)`` index they
read (migration 0013, up and down) and the id lookups by ``Ops.among``, on SQLite and on
PostgreSQL when PAPERFEED_TEST_DATABASE_URL names one."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from alembic import command
from sqlalchemy import inspect, text

from paperfeed import papers
from paperfeed.search.vector_rows import table_mark
from paperfeed.store.db import Database
from paperfeed.store.embeddings import state_query, table_state, to_blob
from paperfeed.store.migrate import alembic_config, current_revision
from paperfeed.store.models import PaperEmbedding
from tests.factories import add_paper

INDEX = "ix_paper_embeddings_model_embedded_at"
MODELS = ("model-a", "model-b:onnx", "model-c")
T0 = dt.datetime(2026, 1, 1, 8, 0)


def _indexes(db: Database) -> dict[str, list[str | None]]:
    found = inspect(db.engine).get_indexes("paper_embeddings")
    return {str(i["name"]): list(i["column_names"]) for i in found}


@pytest.mark.real_upgrade
def test_the_index_comes_with_0013_and_goes_with_its_downgrade(database: Database) -> None:
    head = current_revision(database)
    assert _indexes(database)[INDEX] == ["model", "embedded_at"]
    command.downgrade(alembic_config(database), "0012")
    assert INDEX not in _indexes(database)
    assert "ix_paper_embeddings_embedded_at" in _indexes(database)  # the older one stays
    database.upgrade()
    assert current_revision(database) == head
    assert _indexes(database)[INDEX] == ["model", "embedded_at"]


def _embed(db: Database, rows: list[tuple[int, str, dt.datetime]]) -> None:
    with db.write() as s:
        for paper_id, model, at in rows:
            s.add(
                PaperEmbedding(
                    paper_id=paper_id,
                    model=model,
                    dim=2,
                    vector=to_blob([0.6, 0.8]),
                    content_hash=f"hash {paper_id}",
                    embedded_at=at,
                )
            )


@pytest.mark.parametrize("seed", range(3))
def test_table_state_and_mark_count_and_date_what_is_there(database: Database, seed: int) -> None:
    """Random mixes of models and times, the empty table and an unknown or absent model."""
    rng = random.Random(seed)
    with database.read() as s:
        assert table_state(s, MODELS[0]) == (0, None)
        assert table_state(s, None) == (0, None)
        assert table_mark(s) == (0, None)
    ids = [add_paper(database, f"2601.{seed}{n:04d}") for n in range(rng.randint(1, 25))]
    rows = [(p, rng.choice(MODELS[:2]), T0 + dt.timedelta(minutes=rng.randint(0, 5))) for p in ids]
    _embed(database, rows)
    with database.read() as s:
        for model in (*MODELS, None):
            mine = [at for _, m, at in rows if m == model]
            assert table_state(s, model) == (len(mine), max(mine, default=None))
        assert table_mark(s) == (len(rows), max(at for _, _, at in rows))


def test_an_index_serves_both_freshness_reads(database: Database) -> None:
    """The plans (not their speed): with scans of the table ruled out where the database can
    be told so, each aggregate reads an index of ``paper_embeddings``, not its rows."""
    ids = [add_paper(database, f"2601.9{n:04d}") for n in range(40)]
    _embed(database, [(p, MODELS[n % 2], T0) for n, p in enumerate(ids)])
    query = state_query(PaperEmbedding.model == "model-a")
    dialect = database.engine.dialect
    state = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if database.is_sqlite:
        with database.read() as s:
            rows = s.execute(text("EXPLAIN QUERY PLAN " + state))
            plan = " ".join(str(r[-1]) for r in rows)
        assert plan.count(f"COVERING INDEX {INDEX}") == 2, plan
        return
    # PostgreSQL reads only the index once the table's pages are all-visible (vacuumed).
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE paper_embeddings"))
    with database.read() as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        s.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = " ".join(r[0] for r in s.execute(text("EXPLAIN " + state)))
    assert (
        plan.count(f"Index Only Scan using {INDEX}")
        + plan.count(f"Index Only Scan Backward using {INDEX}")
        == 2
    ), plan


@pytest.mark.parametrize("wanted", [[], [0], [0, 1, 2], [2, 0, 0], [0, 10**9], [10**9]])
def test_items_by_id_are_the_same_with_the_database_s_way_of_naming_ids(
    database: Database, wanted: list[int]
) -> None:
    ids = [add_paper(database, f"2601.8{n:04d}") for n in range(3)]
    asked = [ids[w] if w < len(ids) else w for w in wanted]
    with database.quick_read() as s:
        plain = papers.items_by_paper_ids(s, asked)
        among = papers.items_by_paper_ids(s, asked, database.ops)
    assert among.keys() == plain.keys() == {p for p in asked if p in ids}
    assert {k: v.arxiv_id for k, v in among.items()} == {k: v.arxiv_id for k, v in plain.items()}
