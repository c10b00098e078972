"""Similar papers: a paper's nearest neighbours in the semantic index fused with a keyword
"more like this" search, as feed items.

Used by the paper page ("Similar papers") and ``GET /api/papers/{id}/similar``. Two lists of
``CANDIDATES`` papers each: the paper's nearest neighbours by embedding, and the keyword
index's BM25 answer to the paper's ``MLT_TERMS`` most distinctive words (``distinctive_terms``:
count in its title and abstract × IDF). They are fused by weighted reciprocal rank
(``fuse_similar``: semantic weight 1, keyword ``KEYWORD_WEIGHT``, constant ``FUSION_K``).
The constants were fitted on half of CSFCube's query papers and confirmed on the other half
(``benchmarks/bench_similar_csfcube.py --fit``, which calls these same two functions).

A paper not embedded yet (just ingested, index not updated) is embedded on the fly from its
text; with no embedder at all the answer is empty (never an error); without a keyword index
(or when it fails) the semantic list alone is served.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from paperfeed import papers
from paperfeed.config import Settings
from paperfeed.papers import FeedItem
from paperfeed.papers.ids import unversioned
from paperfeed.search.query import STOPWORDS, words_of
from paperfeed.store.db import Database
from paperfeed.store.models import Paper

if TYPE_CHECKING:
    from paperfeed.search.vectors import VectorSearch

log = logging.getLogger(__name__)

DEFAULT_K = 10
MAX_K = 50
# Fitted on CSFCube's dev half (benchmarks/bench_similar_csfcube.py --fit; RESULTS.md).
CANDIDATES = 50  # papers taken from each list before fusing
MLT_TERMS = 48  # the paper's most distinctive words, searched in the keyword index
KEYWORD_WEIGHT = 0.75  # the keyword list's weight in the fusion (the semantic list's is 1)
FUSION_K = 10.0


def distinctive_terms(
    words: Sequence[str],
    doc_freq: Mapping[str, int],
    n_docs: int,
    limit: int = MLT_TERMS,
) -> list[str]:
    """The ``limit`` words of a paper's text that set it apart most: how often the paper
    uses the word × its IDF among ``n_docs`` papers (``doc_freq``: papers holding it; absent
    is 0). Common words, numbers and one-letter words are left out; ties keep text order."""
    counts = Counter(w for w in words if len(w) > 1 and not w.isdigit() and w not in STOPWORDS)

    def weight(word: str) -> float:
        df = doc_freq.get(word, 0)
        return counts[word] * math.log(1 + (n_docs - df + 0.5) / (df + 0.5))

    weights = {word: weight(word) for word in counts}
    return sorted(counts, key=lambda w: -weights[w])[:limit]


def fuse_similar(
    semantic: Sequence[int],
    keyword: Sequence[int],
    *,
    weight: float = KEYWORD_WEIGHT,
    k: float = FUSION_K,
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of two rankings (best first) as ``(id, score)``,
    best first: 1 / (k + rank) from the semantic list, ``weight`` / (k + rank) from the
    keyword list. Ties keep the semantic list's order, then the keyword list's."""
    scores: dict[int, float] = defaultdict(float)
    for rank, pid in enumerate(semantic, start=1):
        scores[pid] += 1.0 / (k + rank)
    for rank, pid in enumerate(keyword, start=1):
        scores[pid] += weight / (k + rank)
    return sorted(scores.items(), key=lambda hit: -hit[1])


def paper_id_for(db: Database, arxiv_id: str) -> int | None:
    """``papers.id`` of an arXiv id (a versioned id finds the unversioned paper)."""
    with db.read() as session:
        for candidate in dict.fromkeys((arxiv_id, unversioned(arxiv_id))):
            found = session.scalar(select(Paper.id).where(Paper.arxiv_id == candidate))
            if found is not None:
                return int(found)
    return None


def similar_items(
    db: Database, settings: Settings, arxiv_id: str, k: int = DEFAULT_K
) -> list[FeedItem] | None:
    """The ``k`` papers most similar to ``arxiv_id``, best first, each with its fused score
    in ``score``; None when there is no such paper."""
    paper_id = paper_id_for(db, arxiv_id)
    if paper_id is None:
        return None
    return similar_to_id(db, settings, paper_id, k)


def similar_to_id(db: Database, settings: Settings, paper_id: int, k: int) -> list[FeedItem]:
    # lazy: numpy and the ANN library load at the first similar-papers request, not at start
    from paperfeed.search.vectors import get_vector_search

    k = max(1, min(k, MAX_K))
    vectors = get_vector_search(settings)
    if vectors is None:
        return []
    with db.read() as session:
        row = session.execute(
            select(Paper.title, Paper.abstract).where(Paper.id == paper_id)
        ).one_or_none()
    title, abstract = (row[0] or "", row[1] or "") if row is not None else ("", "")
    try:
        semantic = vectors.similar(paper_id, CANDIDATES)
        if not semantic and vectors.vector_of(paper_id) is None and row is not None:
            semantic = _similar_unembedded(vectors, paper_id, title, abstract)
    except Exception:  # the page must render even when the index is broken
        log.exception("similar papers failed for paper %s", paper_id)
        return []
    keyword = more_like_this(settings, paper_id, f"{title} {abstract}")
    hits = fuse_similar([pid for pid, _ in semantic], keyword)[:k]
    with db.read() as session:
        items = papers.items_by_paper_ids(session, [pid for pid, _ in hits])
    out: list[FeedItem] = []
    for pid, score in hits:
        item = items.get(pid)
        if item is not None:
            item.score = round(score, 4)
            out.append(item)
    return out


def more_like_this(settings: Settings, paper_id: int, text: str) -> list[int]:
    """The keyword index's best ``CANDIDATES`` papers for the ``MLT_TERMS`` most distinctive
    words of ``text`` (the paper itself left out); [] without an index or when it fails."""
    # lazy: the keyword index (tantivy) opens at the first search, not at start
    from paperfeed.search.keyword import get_keyword_index

    words = words_of(text)
    if not words:
        return []
    try:
        index = get_keyword_index(settings)
        n_docs, freqs = index.doc_freqs(words)
        hits = index.any_word(distinctive_terms(words, freqs, n_docs), CANDIDATES + 1)
    except Exception:  # the semantic list alone is still an answer
        log.exception("more-like-this failed for paper %s", paper_id)
        return []
    return [pid for pid, _ in hits if pid != paper_id][:CANDIDATES]


def _similar_unembedded(
    vectors: VectorSearch, paper_id: int, title: str, abstract: str
) -> list[tuple[int, float]]:
    # lazy: as above (the embedder's module loads numpy)
    from paperfeed.search.embedder import paper_text

    vector = vectors.embedder.embed_one(paper_text(title, abstract))
    hits = vectors.nearest(vector, CANDIDATES + 1)
    return [(pid, score) for pid, score in hits if pid != paper_id][:CANDIDATES]
