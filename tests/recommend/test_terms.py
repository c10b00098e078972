"""Papers' words for the term model: the analyser, the stored counts, the idf rules, the
weighted rows, and ``fill`` (idempotent, safe to race, follows changed and deleted papers)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import sparse
from sqlalchemy import delete, func, select, update

from paperfeed.recommend import terms
from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from paperfeed.store.reader_models import PaperTerms
from tests.factories import add_paper


def row(text: str) -> dict[int, float]:
    counted = terms.count([text])
    return dict(zip(counted.indices.tolist(), counted.data.tolist(), strict=True))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Schrödinger équation à Zürich", "Schrodinger equation a Zurich"),  # accents
        ("Graph NEURAL Networks", "graph neural networks"),  # case
        ("the graph of a network", "graph network"),  # stop words: not counted
        ("量子 graph — networks ✨", "graph networks"),  # letters outside a-z: not tokens
        ("graph, networks; (graph)", "graph networks graph"),  # punctuation
    ],
)
def test_texts_that_differ_only_in_what_the_analyser_drops_count_the_same(
    one: str, other: str
) -> None:
    assert row(one) == row(other)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "the and of to a", "é à ü", "1 22 333", "量子计算", "x y z"],
)
def test_texts_with_no_terms_give_an_empty_row(text: str) -> None:
    assert row(text) == {}


def test_unigrams_and_bigrams_are_counted() -> None:
    counted = row("neural network neural network neural")
    # neural 3, network 2, "neural network" 2, "network neural" 2
    assert sorted(counted.values()) == [2.0, 2.0, 2.0, 3.0]


def test_a_papers_text_is_title_then_abstract_and_survives_missing_parts() -> None:
    assert terms.paper_text("Graph", None) == "Graph "
    assert terms.paper_text(None, "networks") == " networks"
    assert row(terms.paper_text("Graph", "networks")) == row("graph networks")


@pytest.mark.parametrize("words", [1, 100, 70_000])
def test_counts_survive_their_blob_capped_at_uint16(words: int) -> None:
    counted = terms.count([" ".join(["zebra"] * words + ["lion", "tiger"])])
    columns, counts = terms.from_blob(terms.blobs_of(counted)[0])
    assert columns.tolist() == counted.indices.tolist()
    assert counts.tolist() == np.minimum(counted.data, 65535).tolist()
    assert terms.stack([terms.blobs_of(counted)[0], b""]).shape == (2, terms.COLUMNS)


def counts_with_df(dfs: list[int], n: int) -> sparse.csr_matrix:
    """``n`` rows; column j appears in the first ``dfs[j]`` rows (count 2)."""
    dense = np.zeros((n, len(dfs)), np.float32)
    for j, df in enumerate(dfs):
        dense[:df, j] = 2
    return sparse.csr_matrix(dense)


@pytest.mark.parametrize("n", [10, 40, 1000, 3000])
def test_idf_is_zero_for_rare_and_common_terms(n: int) -> None:
    common = max(0.1 * n, terms.MAX_DF_FLOOR)  # a small site drops no term as too common
    dfs = [1, 2, int(0.1 * n), int(0.1 * n) + 1, min(n, int(common)), min(n, int(common) + 1), n, 0]
    idf = terms.idf(counts_with_df(dfs, n))
    for df, weight in zip(dfs, idf, strict=True):
        if 2 <= df <= common:
            assert weight == pytest.approx(np.log((1 + n) / (1 + df)) + 1, rel=1e-6)
        else:
            assert weight == 0


def test_weighed_rows_are_unit_length_or_empty_and_sublinear() -> None:
    rng = np.random.default_rng(3)
    dense = rng.integers(0, 5, (50, 30)).astype(np.float32) * (rng.random((50, 30)) < 0.3)
    dense[7] = 0  # a paper with no words
    weights = rng.random(30).astype(np.float32) + 0.5
    weights[:5] = 0  # zero-idf columns vanish
    rows = terms.weigh(sparse.csr_matrix(dense), weights)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    has = (dense[:, 5:] > 0).any(axis=1)
    assert np.allclose(norms[has], 1, atol=1e-5) and (norms[~has] == 0).all()
    assert not (rows[:, :5].toarray()).any() and rows.dtype == np.float32
    expected = np.where(dense > 0, 1 + np.log(np.maximum(dense, 1)), 0) * weights
    expected /= np.maximum(np.linalg.norm(expected, axis=1, keepdims=True), 1e-30)
    assert np.allclose(rows.toarray(), expected, atol=1e-6)


def stored(db: Database) -> dict[int, bytes]:
    with db.read() as s:
        return {
            int(p): bytes(c) for p, c in s.execute(select(PaperTerms.paper_id, PaperTerms.counts))
        }


def test_fill_counts_missing_papers_once_and_then_changed_ones(database: Database) -> None:
    ids = [add_paper(database, f"2501.{10000 + i}", title=f"graph number{i}") for i in range(7)]
    assert terms.fill(database, limit=3) == 3
    assert terms.fill(database) == 4
    assert terms.fill(database) == 0  # idempotent
    blobs = stored(database)
    assert set(blobs) == set(ids)
    assert (
        blobs[ids[2]]
        == terms.blobs_of(
            terms.count(
                ["graph number2 " + "An abstract written for the tests about paper 2501.10002."]
            )
        )[0]
    )
    with database.write() as s:
        s.execute(
            update(Paper)
            .where(Paper.id == ids[0])
            .values(title="lattice", modified_at=dt.datetime.now() + dt.timedelta(hours=1))
        )
    assert terms.fill(database) == 1
    assert stored(database)[ids[0]] != blobs[ids[0]]
    assert terms.fill(database, paper_ids=[ids[1], 10**9]) == 0


def test_two_fills_at_once_store_every_paper_once(database: Database) -> None:
    ids = [add_paper(database, f"2501.{20000 + i}") for i in range(1200)]
    with ThreadPoolExecutor(2) as pool:  # an error in either is raised here
        written = list(pool.map(lambda _: terms.fill(database), range(2)))
    assert len(ids) <= sum(written) <= 2 * len(ids)
    with database.read() as s:
        assert s.scalar(select(func.count()).select_from(PaperTerms)) == len(ids)
    assert terms.fill(database) == 0


def test_a_deleted_papers_counts_go_with_it(database: Database) -> None:
    gone = add_paper(database, "2501.30000")
    kept = add_paper(database, "2501.30001")
    terms.fill(database)
    with database.write() as s:
        s.execute(delete(Paper).where(Paper.id == gone))
    assert set(stored(database)) == {kept}
