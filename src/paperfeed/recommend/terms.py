"""Each paper's words for the For you term model: hashed tf-idf rows of title and abstract.

The recipe is the one the authors-as-readers benchmark chose (benchmarks/RESULTS.md, "Sparse
features that production can run", ``--hashed``): arxiv-sanity-lite's analyser (lower-case,
accents stripped, English stop words, its token pattern, 1–2-grams) hashed into 2^18 columns
(no vocabulary to fit or keep), then per paper 1 + ln(tf) times the corpus's smooth idf
ln((1 + N) / (1 + df)) + 1, zero where df < 2 or df > 10 % of N (and > 100 papers: on a small
site a share says little), and the row L2-normalised.

Stored: the raw hashed counts a paper (``paper_terms``, derived data like the embeddings,
about 1 KB a paper), filled by :func:`fill` for papers that lack them or changed since.
The idf is the candidates' (``candidates.py`` computes it from the rows it loads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from paperfeed.store.db import Database
from paperfeed.store.models import Paper
from paperfeed.store.reader_models import PaperTerms

COLUMNS = 2**18
MIN_DF = 2  # a term in fewer papers weighs nothing (a typo, a one-off name)
MAX_DF_SHARE = 0.1  # nor one in more than this share of them (too common to tell)
# ... but on a small site a share says little: with 30 papers in 3 topics every topic's own
# words are in a third of them. A term is too common only when in more than this many too.
MAX_DF_FLOOR = 100
BATCH = 500
_BLOCK = 8192  # rows weighed at a time
_MAX_COUNT = np.iinfo(np.uint16).max


@cache
def _hasher() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer  # lazy: sklearn is slow

    return HashingVectorizer(
        n_features=COLUMNS,
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
        lowercase=True,
        strip_accents="unicode",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
    )


def paper_text(title: str | None, abstract: str | None) -> str:
    """What a paper's terms are counted from (as the benchmark did: title, space, abstract)."""
    return f"{title or ''} {abstract or ''}"


def count(texts: Sequence[str]) -> sparse.csr_matrix:
    """The hashed 1–2-gram counts of ``texts``, one CSR row each (float32, sorted columns)."""
    if not texts:
        return sparse.csr_matrix((0, COLUMNS), dtype=np.float32)
    rows = sparse.csr_matrix(_hasher().transform(list(texts)), dtype=np.float32)
    rows.sort_indices()
    return rows


def to_blob(columns: NDArray[Any], counts: NDArray[Any]) -> bytes:
    """One paper's counts: int32 columns then uint16 counts (capped), little-endian."""
    capped = np.minimum(np.rint(counts), _MAX_COUNT)
    return np.asarray(columns, "<i4").tobytes() + np.asarray(capped, "<u2").tobytes()


def from_blob(blob: bytes) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    n = len(blob) // 6
    columns = np.frombuffer(blob, dtype="<i4", count=n).astype(np.int32)
    counts = np.frombuffer(blob, dtype="<u2", count=n, offset=4 * n).astype(np.float32)
    return columns, counts


def stack(blobs: Iterable[bytes]) -> sparse.csr_matrix:
    """CSR rows of counts from blobs (one row a blob, in order), decoded straight into the
    matrix's arrays."""
    every = list(blobs)
    sizes = np.fromiter((len(b) // 6 for b in every), dtype=np.int64, count=len(every))
    indptr = np.zeros(len(every) + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    columns = np.empty(int(indptr[-1]), dtype=np.int32)
    values = np.empty(int(indptr[-1]), dtype=np.float32)
    for blob, lo, n in zip(every, indptr[:-1], sizes, strict=True):
        if n:
            columns[lo : lo + n] = np.frombuffer(blob, dtype="<i4", count=n)
            values[lo : lo + n] = np.frombuffer(blob, dtype="<u2", count=n, offset=4 * n)
    return sparse.csr_matrix((values, columns, indptr), shape=(len(every), COLUMNS))


def blobs_of(rows: sparse.csr_matrix) -> list[bytes]:
    return [
        to_blob(rows.indices[a:b], rows.data[a:b])
        for a, b in zip(rows.indptr[:-1], rows.indptr[1:], strict=True)
    ]


def idf(counts: sparse.csr_matrix) -> NDArray[np.float32]:
    """The smooth idf of every column over ``counts``' rows (one a paper), zero where the
    document frequency is under ``MIN_DF`` or over ``MAX_DF_SHARE`` of the rows (and over
    ``MAX_DF_FLOOR``)."""
    n = counts.shape[0]
    df = np.bincount(np.asarray(counts.indices, np.int64), minlength=counts.shape[1])
    keep = (df >= MIN_DF) & (df <= max(MAX_DF_SHARE * n, MAX_DF_FLOOR))
    weights: NDArray[np.float32] = ((np.log((1 + n) / (1 + df)) + 1) * keep).astype(np.float32)
    return weights


def weigh(
    counts: sparse.csr_matrix, weights: NDArray[np.float32], *, copy: bool = True
) -> sparse.csr_matrix:
    """tf-idf rows: 1 + ln(count), times ``weights`` (the idf), L2-normalised (a row left
    with nothing stays empty), float32. ``copy=False``: in ``counts``' own arrays (done a
    block of rows at a time: no temporary the size of the matrix)."""
    rows = sparse.csr_matrix(counts, dtype=np.float32, copy=copy)
    data, indices, indptr = rows.data, rows.indices, rows.indptr
    for a in range(0, rows.shape[0], _BLOCK):
        b = min(rows.shape[0], a + _BLOCK)
        lo, hi = int(indptr[a]), int(indptr[b])
        block = data[lo:hi]  # a view: written in place
        np.log(block, out=block)
        block += 1
        block *= weights[indices[lo:hi]]
        sums = np.concatenate([[0.0], np.cumsum(np.square(block, dtype=np.float64))])
        squares = np.maximum(sums[indptr[a + 1 : b + 1] - lo] - sums[indptr[a:b] - lo], 0.0)
        scale = np.where(squares > 0, 1 / np.sqrt(np.maximum(squares, 1e-60)), 0.0)
        block *= np.repeat(scale.astype(np.float32), np.diff(indptr[a : b + 1]))
    rows.eliminate_zeros()
    return rows


def counts_of(session: Session, paper_ids: Sequence[int]) -> sparse.csr_matrix:
    """The counts of those papers, counted now from their text (rows in ``paper_ids`` order;
    an unknown id gets an empty row)."""
    text: dict[int, str] = {}
    for i in range(0, len(paper_ids), BATCH):
        chunk = list(paper_ids[i : i + BATCH])
        rows = session.execute(
            select(Paper.id, Paper.title, Paper.abstract).where(Paper.id.in_(chunk))
        )
        text.update({int(p): paper_text(t, a) for p, t, a in rows})
    return count([text.get(int(p), "") for p in paper_ids])


def _stale() -> Any:
    return or_(
        PaperTerms.paper_id.is_(None),
        PaperTerms.paper_modified_at.is_(None),
        Paper.modified_at > PaperTerms.paper_modified_at,
    )


def fill(db: Database, limit: int | None = None, paper_ids: Sequence[int] | None = None) -> int:
    """Count the terms of papers that have none or changed since (at most ``limit``; only
    ``paper_ids`` if given), in id order; how many were written. Safe to run twice at once:
    the second writer of a paper writes the same counts (never older ones)."""
    done, after = 0, 0
    wanted = None if paper_ids is None else sorted({int(p) for p in paper_ids})
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        stmt = (
            select(Paper.id, Paper.title, Paper.abstract, Paper.modified_at)
            .outerjoin(PaperTerms, PaperTerms.paper_id == Paper.id)
            .where(Paper.id > after, _stale())
            .order_by(Paper.id)
            .limit(size)
        )
        if wanted is not None:
            chunk = [p for p in wanted if p > after][:BATCH]
            if not chunk:
                break
            stmt = stmt.where(Paper.id.in_(chunk))
        with db.read() as session:
            rows = session.execute(stmt).all()
        if not rows:
            if wanted is not None and chunk:
                after = chunk[-1]
                continue
            break
        _write(db, rows)
        done += len(rows)
        after = int(rows[-1][0])
    return done


def _write(db: Database, rows: Sequence[Any]) -> None:
    blobs = blobs_of(count([paper_text(title, abstract) for _, title, abstract, _ in rows]))
    values = [
        {"paper_id": int(pid), "counts": blob, "paper_modified_at": modified}
        for (pid, _, _, modified), blob in zip(rows, blobs, strict=True)
    ]
    stmt = db.ops.insert(PaperTerms).values(values)
    newer = or_(
        PaperTerms.paper_modified_at.is_(None),
        PaperTerms.paper_modified_at < stmt.excluded.paper_modified_at,
    )
    with db.write() as session:
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["paper_id"],
                set_={
                    "counts": stmt.excluded.counts,
                    "paper_modified_at": stmt.excluded.paper_modified_at,
                },
                where=newer,
            )
        )
