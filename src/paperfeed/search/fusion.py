"""Fusion of the two sides of a search: weighted reciprocal rank fusion of the keyword
index's ranks and the semantic side's (``search_rrf_k``, ``search_semantic_weight``), with
the papers of an author the query names lifted above every other (``NAMED_FIRST``).
``hybrid.search`` calls it; ``benchmarks/tune_search.py`` fits its constants."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from paperfeed.config import Settings

# Added to the fused score of a paper with an author the query names (fused scores are at
# most (1 + semantic weight) / (k + 1), far below): such papers rank first (issue 17).
NAMED_FIRST = 10.0

__all__ = ["NAMED_FIRST", "fuse", "rrf"]


def _keyword_ranks(hits: list[tuple[int, float]]) -> dict[int, int]:
    """Rank from 1; papers with the same BM25 score share a rank."""
    ranks: dict[int, int] = {}
    rank, previous = 0, None
    for position, (pid, score) in enumerate(hits, start=1):
        if previous is None or abs(score - previous) > 1e-6 * max(1.0, abs(score)):
            rank = position
        previous = score
        ranks.setdefault(pid, rank)
    return ranks


def rrf(
    rankings: Sequence[dict[int, int]], k: float, weights: Sequence[float] | None = None
) -> dict[int, float]:
    """Weighted reciprocal rank fusion: score = sum of weight / (k + rank)."""
    scores: dict[int, float] = {}
    for i, ranks in enumerate(rankings):
        weight = weights[i] if weights is not None else 1.0
        for pid, rank in ranks.items():
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank)
    return scores


def fuse(
    keyword_hits: list[tuple[int, float]],
    semantic_hits: list[tuple[int, float]],
    settings: Settings,
    by_score: bool,
    named: Collection[int] = (),
) -> tuple[list[int], dict[int, float]]:
    """The candidates, best first (``by_score``; else in the keyword index's order), and
    their scores: weighted reciprocal rank fusion of both sides (``search_rrf_k``,
    ``search_semantic_weight``), or the BM25 scores alone. Papers in ``named`` (an author
    the query names) score ``NAMED_FIRST`` more: above every other, in their own order (the
    semantic side knows nothing of names, and its best would otherwise come between)."""
    rankings = [_keyword_ranks(keyword_hits)]
    if semantic_hits:
        rankings.append({pid: r for r, (pid, _) in enumerate(semantic_hits, start=1)})
    weights = (1.0, settings.search_semantic_weight)
    fused = rrf(rankings, settings.search_rrf_k, weights) if len(rankings) > 1 else None
    candidates = list(fused) if fused is not None else [pid for pid, _ in keyword_hits]
    scores = fused if fused is not None else dict(keyword_hits)
    for pid in named:
        if pid in scores:
            scores[pid] += NAMED_FIRST

    def score(pid: int) -> float:
        return round(scores.get(pid, 0.0), 9)

    return (sorted(candidates, key=score, reverse=True) if by_score else candidates), scores
