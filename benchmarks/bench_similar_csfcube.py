"""Quality of "similar papers" on CSFCube (expert grades 0–3, shared/data/csfcube).

For each (query paper, facet) pair, its judged candidates are ranked by the query paper's
text (title + abstract), and NDCG@20 (graded gain, log2 discount, ideal from all judged
candidates) and MAP (relevant = grade >= 2, as the upstream evaluation) are computed:

- BM25: a plain Okapi BM25 (k1 1.2, b 0.75) written here, IDF over the 4,205-paper corpus,
  the query paper's whole text as the query;
- embeddings: cosine of all-MiniLM-L6-v2 vectors (paperfeed.search.embedder, the backend
  given by --backend, default the served one, onnx);
- hybrid (RRF): reciprocal rank fusion of the two (k = 60, unweighted);
- served: what the site serves (``paperfeed.search.similar``): the query paper's
  ``distinctive_terms`` as a BM25 "more like this" query, its top ``CANDIDATES`` fused with
  the embeddings' top ``CANDIDATES`` by ``fuse_similar`` (the site's own functions; the
  BM25 here is this script's, the site's is the keyword index's).

``--fit`` searches the served method's constants (terms, weight, k; with ``--centroid``
also a centroid of the title's and the abstract's vectors in place of the whole text's) on
half of the query papers (dev: every other query paper in id order), then reports dev, test
and all per facet, with a bootstrap over query papers of the difference against embeddings
alone and against the RRF hybrid.

Embeddings are cached in ``benchmarks/.cache`` (ignored), keyed by backend and text.

    .venv/bin/python benchmarks/bench_similar_csfcube.py [--backend onnx-int8|onnx|torch] [--fit]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import re
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.search import similar
from paperfeed.search.embedder import Embedder, paper_text
from paperfeed.search.query import words_of

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
CACHE = Path(__file__).resolve().parent / ".cache"
Grades = dict[str, int]


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


def unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) or 1.0)


class Bench:
    """The corpus, its judgments, BM25 and the vectors (full text, title, abstract)."""

    def __init__(self, backend: str, threads: int, centroid: bool) -> None:
        self.corpus: dict[str, tuple[str, str]] = {}
        with open(DATA / "corpus.jsonl") as fh:
            for line in fh:
                r = json.loads(line)
                self.corpus[r["paper_id"]] = (r.get("title") or "", r.get("abstract") or "")
        self.qrels: dict[tuple[str, str], Grades] = defaultdict(dict)
        with open(DATA / "qrels.tsv") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                grades = self.qrels[(row["query_id"], row["facet"])]
                grades[row["paper_id"]] = int(row["relevance"])
        self.bm25 = BM25({d: tokens(paper_text(*t)) for d, t in self.corpus.items()})
        self.df: Counter[str] = Counter()
        for title, abstract in self.corpus.values():
            self.df.update(set(words_of(f"{title} {abstract}")))
        self.needed = sorted(
            {q for q, _ in self.qrels} | {d for g in self.qrels.values() for d in g}
        )
        self.number = {d: i for i, d in enumerate(self.needed)}
        texts = {
            "full": lambda t: paper_text(*t),
            "title": lambda t: t[0],
            "abstract": lambda t: t[1],
        }
        self.vec = {
            name: dict(
                zip(self.needed, self.embed(backend, threads, name, texts[name]), strict=True)
            )
            for name in ("full", "title", "abstract")
            if name == "full" or centroid
        }
        if centroid:
            self.vec["centroid"] = {
                d: unit(self.vec["title"][d] + self.vec["abstract"][d]) for d in self.needed
            }
        self._kw: dict[tuple[str, str, int], list[str]] = {}

    def embed(self, backend: str, threads: int, name: str, fn: Any) -> np.ndarray:
        texts = [fn(self.corpus[d]) for d in self.needed]
        key = hashlib.sha256(json.dumps([backend, texts]).encode()).hexdigest()[:16]
        path = CACHE / f"csfcube-{name}-{key}.npy"
        if path.exists():
            return np.load(path)
        model_dir = Path(tempfile.gettempdir()) / "paperfeed-test-models"
        embedder = Embedder(backend, model_dir=model_dir, threads=threads)
        started = time.perf_counter()
        matrix = np.asarray(embedder.embed(texts), dtype=np.float32)
        print(f"embedded {len(texts)} texts ({name}) in {time.perf_counter() - started:.0f} s")
        CACHE.mkdir(exist_ok=True)
        np.save(path, matrix)
        return matrix

    def by_vectors(self, name: str, query: str, cands: list[str]) -> list[str]:
        vec = self.vec[name]
        sims = {d: float(vec[query] @ vec[d]) for d in cands}
        return sorted(cands, key=lambda d: -sims[d])

    def more_like_this(self, query: str, cands: list[str], terms: int) -> list[str]:
        """The candidates the site's keyword side would return: BM25 of the query paper's
        ``terms`` most distinctive words (``similar.distinctive_terms``), matches only."""
        key = (query, ",".join(cands[:3]), terms)
        if key not in self._kw:
            title, abstract = self.corpus[query]
            words = words_of(f"{title} {abstract}")
            picked = similar.distinctive_terms(words, self.df, len(self.corpus), terms)
            scores = {d: self.bm25.score(picked, d) for d in cands}
            self._kw[key] = sorted((d for d in cands if scores[d] > 0), key=lambda d: -scores[d])
        return self._kw[key]

    def served(self, query: str, cands: list[str], **p: Any) -> list[str]:
        """The site's ranking (``similar.fuse_similar`` of the two top-``CANDIDATES`` lists),
        then the rest of the candidates in embedding order."""
        sem = self.by_vectors(p.get("vectors", "full"), query, cands)
        kw = self.more_like_this(query, cands, p.get("terms", similar.MLT_TERMS))
        n = similar.CANDIDATES
        fused = similar.fuse_similar(
            [self.number[d] for d in sem[:n]],
            [self.number[d] for d in kw[:n]],
            weight=p.get("weight", similar.KEYWORD_WEIGHT),
            k=p.get("k", similar.FUSION_K),
        )
        ranked = [self.needed[i] for i, _ in fused]
        return ranked + [d for d in sem if d not in set(ranked)]

    def rankings(self, query: str, cands: list[str]) -> dict[str, list[str]]:
        by_bm25 = sorted(
            cands, key=lambda d: -self.bm25.score(tokens(paper_text(*self.corpus[query])), d)
        )
        by_emb = self.by_vectors("full", query, cands)
        return {
            "BM25": by_bm25,
            "embeddings": by_emb,
            "hybrid (RRF)": rrf(by_bm25, by_emb),
            "served": self.served(query, cands),
        }

    def scores(self, method: Any, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], float]:
        out = {}
        for query, facet in pairs:
            grades = self.qrels[(query, facet)]
            out[(query, facet)] = ndcg_at(method(query, [d for d in grades if d != query]), grades)
        return out


def bootstrap(diff: dict[tuple[str, str], float], rounds: int = 5000) -> str:
    """Mean of ``diff`` over pairs, with a 95 % interval from resampling query papers."""
    by_paper: dict[str, list[float]] = defaultdict(list)
    for (query, _), d in diff.items():
        by_paper[query].append(d)
    papers = list(by_paper)
    rng = np.random.default_rng(16)
    means = []
    for _ in range(rounds):
        sample = rng.choice(len(papers), len(papers))
        values = [v for i in sample for v in by_paper[papers[i]]]
        means.append(np.mean(values))
    low, high = np.percentile(means, [2.5, 97.5])
    above = np.mean(np.asarray(means) > 0)
    return f"{np.mean(list(diff.values())):+.3f} [{low:+.3f}, {high:+.3f}], P(>0) {above:.2f}"


FACETS = ("background", "method", "result")


def report(bench: Bench) -> None:
    """The four methods per facet, NDCG@20 and MAP, over all 50 pairs."""
    methods = ["BM25", "embeddings", "hybrid (RRF)", "served"]
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (query, facet), grades in sorted(bench.qrels.items()):
        rankings = bench.rankings(query, [d for d in grades if d != query])
        for method, ranked in rankings.items():
            for bucket in (facet, "all"):
                results[bucket][f"{method} ndcg"].append(ndcg_at(ranked, grades))
                results[bucket][f"{method} map"].append(average_precision(ranked, grades))
    print(
        "| facet | pairs | "
        + " | ".join(f"{m} NDCG@20 | {m} MAP" for m in methods)
        + " |\n| --- | ---: |"
        + " ---: | ---: |" * len(methods)
    )
    for bucket in (*FACETS, "all"):
        row = results[bucket]
        cells = " | ".join(
            f"{np.mean(row[f'{m} ndcg']):.3f} | {np.mean(row[f'{m} map']):.3f}" for m in methods
        )
        print(f"| {bucket} | {len(row['BM25 ndcg'])} | {cells} |")


def grid(vectors: list[str]) -> list[dict[str, Any]]:
    return [
        {"vectors": v, "terms": t, "weight": w, "k": k}
        for v in vectors
        for t in (8, 16, 24, 32, 48, 64)
        for w in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
        for k in (5.0, 10.0, 20.0, 60.0)
    ]


def fit(bench: Bench) -> None:
    """Fit the served constants on the dev query papers; report dev, test, all per facet."""
    queries = sorted({q for q, _ in bench.qrels})
    dev_papers = set(queries[::2])
    pairs = sorted(bench.qrels)
    split = {
        "dev": [p for p in pairs if p[0] in dev_papers],
        "test": [p for p in pairs if p[0] not in dev_papers],
        "all": pairs,
    }
    print(f"{len(queries)} query papers; dev {len(split['dev'])} pairs, test {len(split['test'])}")

    def mean(scores: dict[tuple[str, str], float], which: list[tuple[str, str]]) -> float:
        return float(np.mean([scores[p] for p in which]))

    tried = []
    for params in grid([v for v in ("full", "centroid") if v in bench.vec]):
        dev = bench.scores(lambda q, c, p=params: bench.served(q, c, **p), split["dev"])
        tried.append((mean(dev, split["dev"]), params))
    tried.sort(key=lambda t: -t[0])
    for value, params in tried[:8]:
        print(f"  dev {value:.3f}  {params}")
    best = tried[0][1]
    methods = {
        "BM25": lambda q, c: bench.rankings(q, c)["BM25"],
        "embeddings": lambda q, c: bench.by_vectors("full", q, c),
        "hybrid (RRF)": lambda q, c: bench.rankings(q, c)["hybrid (RRF)"],
        "served (constants in similar.py)": lambda q, c: bench.served(q, c),
        f"served, dev's best {best}": lambda q, c: bench.served(q, c, **best),
    }
    if "centroid" in bench.vec:
        methods["centroid"] = lambda q, c: bench.by_vectors("centroid", q, c)
    scores = {name: bench.scores(fn, pairs) for name, fn in methods.items()}
    print(
        "| method | "
        + " | ".join(f"{s} ({len(split[s])})" for s in split)
        + " | "
        + " | ".join(FACETS)
        + " |"
    )
    for name, got in scores.items():
        facets = [mean(got, [p for p in pairs if p[1] == f]) for f in FACETS]
        cells = [f"{mean(got, split[s]):.3f}" for s in split] + [f"{v:.3f}" for v in facets]
        print(f"| {name} | " + " | ".join(cells) + " |")
    served = scores["served (constants in similar.py)"]
    for against in ("embeddings", "hybrid (RRF)"):
        for s in ("test", "all"):
            diff = {p: served[p] - scores[against][p] for p in split[s]}
            print(f"served − {against}, {s}: {bootstrap(diff)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument(
        "--centroid", action="store_true", help="also embed titles and abstracts apart"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    bench = Bench(args.backend, args.threads, args.centroid)
    report(bench)
    if args.fit:
        fit(bench)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
