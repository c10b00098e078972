"""Quality of "similar papers" on CSFCube (expert grades 0–3, shared/data/csfcube).

For each (query paper, facet) pair, its judged candidates are ranked by the query paper's
text (title + abstract) three ways, and NDCG@20 (graded gain, log2 discount, ideal from all
judged candidates) and MAP (relevant = grade >= 2, as the upstream evaluation) are computed:

- BM25: a plain Okapi BM25 (k1 1.2, b 0.75) written here, IDF over the 4,205-paper corpus;
- embeddings: cosine of all-MiniLM-L6-v2 vectors (paperfeed.search.embedder, the backend
  given by --backend, default the served one, onnx);
- hybrid: reciprocal rank fusion of the two (k = 60, as the site's search).

    .venv/bin/python benchmarks/bench_similar_csfcube.py [--backend onnx-int8|onnx|torch]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from paperfeed.search.embedder import Embedder, paper_text

DATA = (
    Path(
        os.environ.get("PAPERFEED_BENCH_DATA")
        or next(
            (
                p / "shared" / "data"
                for p in Path(__file__).resolve().parents
                if (p / "shared" / "data").is_dir()
            ),
            ".",
        )
    )
    / "csfcube"
)
TOKEN = re.compile(r"[a-z0-9]+")
STOP = set(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "for",
        "to",
        "with",
        "by",
        "from",
        "as",
        "at",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "this",
        "that",
        "these",
        "those",
        "we",
        "our",
        "it",
        "its",
        "which",
        "can",
        "using",
        "use",
        "used",
        "based",
        "via",
        "into",
        "than",
        "then",
        "such",
        "not",
        "also",
    ]
)
RRF_K = 60.0


def tokens(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOP and len(t) > 1]


class BM25:
    def __init__(self, docs: dict[str, list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = {d: Counter(ts) for d, ts in docs.items()}
        self.lengths = {d: len(ts) for d, ts in docs.items()}
        self.avg = sum(self.lengths.values()) / len(docs)
        df: Counter[str] = Counter()
        for counts in self.docs.values():
            df.update(counts.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def score(self, query: list[str], doc: str) -> float:
        counts, length = self.docs[doc], self.lengths[doc]
        total = 0.0
        for term in set(query):
            tf = counts.get(term, 0)
            if tf:
                norm = tf + self.k1 * (1 - self.b + self.b * length / self.avg)
                total += self.idf.get(term, 0.0) * tf * (self.k1 + 1) / norm
        return total


def ndcg_at(ranked: list[str], grades: dict[str, int], k: int = 20) -> float:
    dcg = sum(grades.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(grades.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def average_precision(ranked: list[str], grades: dict[str, int]) -> float:
    relevant = {d for d, g in grades.items() if g >= 2}
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for i, d in enumerate(ranked, start=1):
        if d in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant)


def rrf(*rankings: list[str]) -> list[str]:
    scores: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, d in enumerate(ranking, start=1):
            scores[d] += 1.0 / (RRF_K + rank)
    return sorted(scores, key=lambda d: -scores[d])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    corpus = {}
    with open(DATA / "corpus.jsonl") as fh:
        for line in fh:
            r = json.loads(line)
            corpus[r["paper_id"]] = paper_text(r.get("title") or "", r.get("abstract") or "")
    qrels: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    with open(DATA / "qrels.tsv") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels[(row["query_id"], row["facet"])][row["paper_id"]] = int(row["relevance"])

    bm25 = BM25({d: tokens(t) for d, t in corpus.items()})
    model_dir = Path(tempfile.gettempdir()) / "paperfeed-test-models"
    embedder = Embedder(args.backend, model_dir=model_dir, threads=args.threads)
    needed = sorted({q for q, _ in qrels} | {d for g in qrels.values() for d in g})
    started = time.perf_counter()
    matrix = embedder.embed([corpus[d] for d in needed])
    print(f"embedded {len(needed)} papers in {time.perf_counter() - started:.0f} s")
    vec = dict(zip(needed, matrix, strict=True))

    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (query, facet), grades in sorted(qrels.items()):
        cands = [d for d in grades if d != query]
        q_tokens = tokens(corpus[query])
        by_bm25 = sorted(cands, key=lambda d: -bm25.score(q_tokens, d))
        sims = {d: float(vec[query] @ vec[d]) for d in cands}
        by_emb = sorted(cands, key=lambda d: -sims[d])
        rankings = {"BM25": by_bm25, "embeddings": by_emb, "hybrid (RRF)": rrf(by_bm25, by_emb)}
        for method, ranked in rankings.items():
            for bucket in (facet, "all"):
                results[bucket][f"{method} ndcg"].append(ndcg_at(ranked, grades))
                results[bucket][f"{method} map"].append(average_precision(ranked, grades))

    methods = ["BM25", "embeddings", "hybrid (RRF)"]
    print(
        "| facet | pairs | "
        + " | ".join(f"{m} NDCG@20 | {m} MAP" for m in methods)
        + " |\n| --- | ---: |"
        + " ---: | ---: |" * len(methods)
    )
    for bucket in ("background", "method", "result", "all"):
        row = results[bucket]
        pairs = len(row["BM25 ndcg"])
        cells = " | ".join(
            f"{np.mean(row[f'{m} ndcg']):.3f} | {np.mean(row[f'{m} map']):.3f}" for m in methods
        )
        print(f"| {bucket} | {pairs} | {cells} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
