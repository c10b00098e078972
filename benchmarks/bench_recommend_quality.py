"""Ranking quality of "For you" offline: arXiv authors as readers (issue 18, section 4).

Corpus: the 140,877 papers of ``shared/data`` (``arxiv-cs-ai-daydayarxiv`` ∪ ``arxiv-daily-cs``,
joined on the arXiv id without version; the first set's exact ``published`` wins, the second's
``first_listed`` otherwise, read by the project's own ``generic_record``). For each cut-off day:

- readers: authors (``text.name_key``) with ≥ ``MIN_BEFORE`` papers published before the cut-off
  and ≥ 1 in the ``WINDOW`` days from it (a seeded sample of ``--readers`` of them);
- positives: their papers before the cut-off (the ``CAP`` most recent) — their "upvotes";
- candidates: every paper first published in the window; relevant: the reader's own ones.

Features are title + abstract only (no author names: the reader's name would give the answer
away). Methods: random; most recent; mean-embedding cosine; nearest positive (max cosine, the
cold-start path, also with only the 3 most recent positives); arxiv-sanity-lite's recipe (tf-idf
1-2-grams, 20,000 features, sublinear tf, max_df 0.1, min_df 5, English stop words, fitted on the
corpus's titles + abstracts; ``LinearSVC(C=0.01, class_weight="balanced", tol=1e-6,
max_iter=10000)`` per reader, positives against the other papers before the cut-off); ours:
``paperfeed.recommend.model.fit`` on the production MiniLM embeddings, positives against a seeded
random background sample of the papers before the cut-off (1,000 and 2,000).

``--sparse`` adds where the SVM's edge comes from: its tf-idf SVM against production's
background sample, and that fused with ours (z-scores summed).

``--fused WS:WO:WN:C:BG`` adds a model production can run: a logistic regression on the
tf-idf rows (production's objective and L-BFGS, C, against the first BG background papers)
and the weighted sum of the z-scores (over the candidates) of it, ours (C=1, 1,000) and the
nearest positive; also with ours weighted WO+WN and no nearest positive. ``--hashed``: its
tf-idf is the recipe's analyser hashed into 2^18 columns (no vocabulary) with the corpus's
idf instead of the recipe's 20,000-term vocabulary. ``--solver liblinear``: that LR by
sklearn's liblinear instead. ``--time-fused``: its fit and scoring times with 200 positives
and 10,000 candidates, then stop.

``--production`` adds "production (fused)": what ships, by production's own code — the term
rows of ``recommend/terms.py`` (counted from the bench's texts, the corpus's idf, weighed),
``sparse_model.fit_sparse`` at ``train.TERMS_C`` against production's background, ours
(``model.fit``, C=1, 1,000), the nearest of the ``service.NEAREST_CAP`` most recent
positives, fused by ``fuse.fuse``.

The first cut-off is the dev split: ``--tune`` searches C, background size and background
weighting there only; the others are test. Reported: nDCG@10, recall@50, MRR per cut-off and
overall, and a paired bootstrap over readers of ours minus the SVM.

Embeddings (``paper_text`` of title and abstract, the production embedder and backend) are
computed only for the papers the evaluation needs and cached in ``benchmarks/.cache``
(ignored) as .npy keyed by arXiv id; so are the tf-idf matrix and each reader's SVM metrics
(the SVM against 50,000-100,000 papers takes seconds a reader). On a shared box, run it niced;
``--embed-only`` and ``--svm-only`` fill the caches, in two processes if need be:

    nice -n 10 .venv/bin/python benchmarks/bench_recommend_quality.py [--readers 100]
        [--svm-negatives 0] [--svm-also 20000] [--tune] [--ours C:BG] [--sparse]
        [--fused 1:0.5:0.5:10:1000 [--hashed] [--time-fused]] [--production] [--json out.json]

Without ``shared/data`` (or ``PAPERFEED_BENCH_DATA``) it says so and stops.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

# One BLAS thread: the box is shared, and many small fits gain nothing from two.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = Path(
    os.environ.get("PAPERFEED_BENCH_DATA")
    or next((p / "shared" / "data" for p in HERE.parents if (p / "shared" / "data").is_dir()), ".")
)
CACHE = HERE / ".cache"
SETS = ("arxiv-cs-ai-daydayarxiv", "arxiv-daily-cs")  # the first's exact dates win
CUTOFFS = ("2025-05-05", "2025-08-04", "2026-01-12")  # the first is dev
WINDOW = 14  # days of candidates after a cut-off
MIN_BEFORE = 5
CAP = 200
SEED = 20261205

Floats = NDArray[np.float32]


# --- the corpus ------------------------------------------------------------------------------


@dataclass
class Corpus:
    ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    abstracts: list[str] = field(default_factory=list)
    authors: list[list[str]] = field(default_factory=list)  # name keys
    days: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))  # published, epoch days


def _published(record: Any, raw: dict[str, Any]) -> dt.datetime:
    """First publication; a replaced old paper re-listed later dates from its id's month."""
    when: dt.datetime = record.published_at
    yymm = record.arxiv_id[:4]
    if yymm.isdigit():
        month = dt.datetime(2000 + int(yymm[:2]), int(yymm[2:]), 1)
        if "published" not in raw and when - month > dt.timedelta(days=45):
            return month
    return when


def load_corpus() -> Corpus:
    from paperfeed.sources.readers import generic_record
    from paperfeed.text import name_key

    corpus, seen, days = Corpus(), set[str](), list[float]()
    epoch = dt.datetime(1970, 1, 1)
    for name in SETS:
        for path in sorted((DATA / name).glob("*.jsonl.gz")):
            with gzip.open(path, "rt") as fh:
                for line in fh:
                    raw = json.loads(line)
                    record = generic_record(raw)
                    if record.arxiv_id in seen or record.published_at is None:
                        continue
                    seen.add(record.arxiv_id)
                    corpus.ids.append(record.arxiv_id)
                    corpus.titles.append(record.title)
                    corpus.abstracts.append(record.abstract)
                    corpus.authors.append(sorted({name_key(a) for a in record.authors}))
                    days.append((_published(record, raw) - epoch).total_seconds() / 86400)
    corpus.days = np.array(days)
    return corpus


# --- readers per cut-off -----------------------------------------------------------------------


@dataclass
class Reader:
    name: str
    positives: list[int]  # corpus rows, most recent first
    relevant: set[int]  # candidate positions


@dataclass
class Split:
    cutoff: str
    before: NDArray[np.intp]  # corpus rows published before the cut-off
    candidates: NDArray[np.intp]  # corpus rows published in the window
    background: NDArray[np.intp]  # seeded random sample of ``before`` (production's)
    readers: list[Reader]
    eligible: int  # readers before sampling
    days: NDArray[np.float64]  # the corpus's publication days


def make_split(corpus: Corpus, cutoff: str, n_readers: int, n_background: int) -> Split:
    start = (dt.date.fromisoformat(cutoff) - dt.date(1970, 1, 1)).days
    before = np.flatnonzero(corpus.days < start)
    window = np.flatnonzero((corpus.days >= start) & (corpus.days < start + WINDOW))
    position = {int(row): i for i, row in enumerate(window)}
    papers_before: dict[str, list[int]] = defaultdict(list)
    papers_after: dict[str, set[int]] = defaultdict(set)
    for row in before:
        for name in corpus.authors[row]:
            papers_before[name].append(int(row))
    for row in window:
        for name in corpus.authors[row]:
            papers_after[name].add(position[int(row)])
    names = sorted(
        n for n, rows in papers_before.items() if len(rows) >= MIN_BEFORE and n in papers_after
    )
    rng = np.random.default_rng([SEED, start])
    chosen = rng.permutation(len(names))[:n_readers]  # fewer readers: a prefix of more
    readers = []
    for i in chosen:
        rows = sorted(papers_before[names[i]], key=lambda r: -corpus.days[r])[:CAP]
        readers.append(Reader(names[i], rows, papers_after[names[i]]))
    background = rng.choice(before, min(n_background, len(before)), replace=False)
    return Split(cutoff, before, window, background, readers, len(names), corpus.days)


# --- embeddings ----------------------------------------------------------------------------------


def embed_rows(corpus: Corpus, rows: set[int]) -> dict[int, Floats]:
    """Production vectors of ``rows``: cached ones read, the rest embedded and cached."""
    from paperfeed.config import Settings
    from paperfeed.search.embedder import get_embedder, paper_text

    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pf-recommend-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=None,
            embedding_model_dir=CACHE / "models",
            embedding_threads=int(os.environ.get("BENCH_THREADS", "2")),
        )
        embedder = get_embedder(settings)
    stem = CACHE / f"recommend-{embedder.model.replace(':', '-').replace('/', '-')}"
    known: dict[str, Floats] = {}
    if stem.with_suffix(".ids.npy").exists():
        ids = np.load(stem.with_suffix(".ids.npy"))
        known = dict(zip(ids.tolist(), np.load(stem.with_suffix(".vectors.npy")), strict=True))
    missing = sorted(r for r in rows if corpus.ids[r] not in known)
    print(f"embeddings: {len(rows) - len(missing)} cached, {len(missing)} to embed", flush=True)
    started = time.perf_counter()
    for i in range(0, len(missing), 1024):
        chunk = missing[i : i + 1024]
        texts = [paper_text(corpus.titles[r], corpus.abstracts[r]) for r in chunk]
        for r, vector in zip(chunk, embedder.embed(texts), strict=True):
            known[corpus.ids[r]] = vector
        for suffix, array in (
            ("ids", np.array(list(known))),
            ("vectors", np.stack([*known.values()])),
        ):
            np.save(stem.with_suffix(".tmp.npy"), array)  # renamed: a kill leaves no half file
            os.replace(stem.with_suffix(".tmp.npy"), stem.with_suffix(f".{suffix}.npy"))
        rate = (i + len(chunk)) / (time.perf_counter() - started)
        print(f"  {i + len(chunk)}/{len(missing)} embedded, {rate:.1f}/s", flush=True)
    return {r: known[corpus.ids[r]] for r in rows}


# --- metrics -------------------------------------------------------------------------------------


def metrics(scores: NDArray[Any], relevant: set[int]) -> tuple[float, float, float]:
    """(nDCG@10, recall@50, MRR) of ranking the candidates by ``scores`` (higher first)."""
    order = np.argsort(-scores, kind="stable")
    rank_of = np.empty(len(order), dtype=np.intp)
    rank_of[order] = np.arange(len(order))
    ranks = np.sort(rank_of[list(relevant)])
    gains = 1 / np.log2(ranks[ranks < 10] + 2)
    ideal = (1 / np.log2(np.arange(min(len(ranks), 10)) + 2)).sum()
    return (
        float(gains.sum() / ideal),
        float((ranks < 50).sum() / len(ranks)),
        float(1 / (ranks[0] + 1)),
    )


def bootstrap(diff: NDArray[np.float64], n: int = 10_000) -> tuple[float, float, float]:
    """Mean paired difference and its 95 % percentile interval over readers."""
    rng = np.random.default_rng(SEED)
    means = diff[rng.integers(0, len(diff), (n, len(diff)))].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


# --- methods -------------------------------------------------------------------------------------


@dataclass
class Ours:
    c: float = 1.0
    background: int = 1000
    half_life: float | None = None  # days: newer background papers weigh more (None: equal)


def ours_scores(
    cfg: Ours, pos: Floats, split: Split, reader: Reader, vec: dict[int, Floats], cand: Floats
) -> Floats:
    """production's fit: the reader's positives against the background sample."""
    from paperfeed.recommend.model import fit

    mine = set(reader.positives)
    rows = [int(r) for r in split.background[: cfg.background] if int(r) not in mine]
    weights = None
    if cfg.half_life is not None:
        age = split_start(split) - split.days[rows]
        weights = np.exp2(-age / cfg.half_life).astype(np.float32)
    model = fit(pos, np.stack([vec[r] for r in rows]), weights, c=cfg.c)
    return model.score(cand)


def split_start(split: Split) -> float:
    return float((dt.date.fromisoformat(split.cutoff) - dt.date(1970, 1, 1)).days)


class Svm:
    """arxiv-sanity-lite: tf-idf of the corpus, a LinearSVC per reader."""

    def __init__(self, corpus: Corpus, negatives: int) -> None:
        import scipy.sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        started = time.perf_counter()
        vectorizer = TfidfVectorizer(
            input="content",
            encoding="utf-8",
            decode_error="replace",
            strip_accents="unicode",
            lowercase=True,
            analyzer="word",
            stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
            ngram_range=(1, 2),
            max_features=20_000,
            norm="l2",
            use_idf=True,
            smooth_idf=True,
            sublinear_tf=True,
            max_df=0.1,
            min_df=5,
        )
        texts = [f"{t} {a}" for t, a in zip(corpus.titles, corpus.abstracts, strict=True)]
        saved = CACHE / f"recommend-tfidf-{len(texts)}.npz"
        if saved.exists():  # the same corpus read the same way: the same matrix
            self.x = scipy.sparse.load_npz(saved).tocsr()
        else:
            self.x = vectorizer.fit_transform(texts).astype(np.float32).tocsr()
            scipy.sparse.save_npz(saved, self.x)
        print(f"tf-idf {self.x.shape} in {time.perf_counter() - started:.0f} s", flush=True)
        self.negatives = negatives
        # Each reader's metrics, kept: ``--svm-only`` can fill it in a process of its own.
        self.saved = CACHE / f"recommend-svm-{len(texts)}-{negatives}.json"
        self.known = self.read()

    def read(self) -> dict[str, list[float]]:
        for _ in range(10):  # another process may be writing it
            try:
                return json.loads(self.saved.read_text()) if self.saved.exists() else {}
            except json.JSONDecodeError:
                time.sleep(0.5)
        return {}

    def measured(self, split: Split, reader: Reader) -> tuple[float, float, float]:
        key = f"{split.cutoff}|{reader.name}|{len(reader.positives)}"
        if key not in self.known:
            self.known = self.read()
        if key not in self.known:
            started = time.perf_counter()
            found = metrics(self.scores(split, reader), reader.relevant)
            self.known = self.read()
            self.known[key] = [*found, time.perf_counter() - started]
            self.saved.with_suffix(".tmp").write_text(json.dumps(self.known))
            os.replace(self.saved.with_suffix(".tmp"), self.saved)  # whole for the other process
        ndcg, recall, mrr, _seconds = self.known[key]
        return ndcg, recall, mrr

    def scores(self, split: Split, reader: Reader) -> NDArray[np.float64]:
        """The SVM's margins of the candidates: the reader's papers against the others
        before the cut-off (a seeded sample of ``negatives`` of them, one a cut-off)."""
        from sklearn.svm import LinearSVC

        others = split.before
        if self.negatives and len(others) > self.negatives:
            rng = np.random.default_rng([SEED, int(split_start(split))])
            others = rng.choice(others, self.negatives, replace=False)
        others = others[~np.isin(others, reader.positives)]
        rows = np.concatenate([np.array(reader.positives), others])
        y = np.zeros(len(rows))
        y[: len(reader.positives)] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
        clf.fit(self.x[rows], y)
        return np.asarray(clf.decision_function(self.x[split.candidates]))


def hashed_tfidf(corpus: Corpus) -> Any:
    """Stateless sparse features: the recipe's analyser (1-2-grams, English stop words, its
    token pattern) hashed into 2^18 columns (no vocabulary), sublinear tf, times an idf
    fitted on the corpus (zero where df < 2 or > 10 %, like min_df / max_df), L2."""
    import scipy.sparse
    from sklearn.feature_extraction.text import HashingVectorizer

    saved = CACHE / f"recommend-hash18-counts-{len(corpus.ids)}.npz"
    if saved.exists():
        counts = scipy.sparse.load_npz(saved).tocsr()
    else:
        hasher = HashingVectorizer(
            n_features=2**18,
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
            strip_accents="unicode",
            stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
            ngram_range=(1, 2),
        )
        texts = [f"{t} {a}" for t, a in zip(corpus.titles, corpus.abstracts, strict=True)]
        counts = hasher.transform(texts).tocsr()
        scipy.sparse.save_npz(saved, counts)
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1 + n) / (1 + df)) + 1) * ((df >= 2) & (df <= 0.1 * n))
    x = counts.copy()
    x.data = 1 + np.log(x.data)
    x = x @ scipy.sparse.diags(idf.astype(np.float32))
    x.eliminate_zeros()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = scipy.sparse.diags((1 / np.maximum(norms, 1e-12)).astype(np.float32)) @ x
    return x.tocsr().astype(np.float32)


def zscore(x: NDArray[Any]) -> NDArray[np.float64]:
    return np.asarray((x - x.mean()) / (x.std() + 1e-9), dtype=np.float64)


def sparse_extras(x: Any, split: Split, reader: Reader, ranked: dict[str, Any], ours: str) -> None:
    """Where the SVM's edge comes from: its tf-idf features with production's 2,000
    background papers (not 50,000-100,000), and that fused with ours (z-scores summed)."""
    from sklearn.svm import LinearSVC

    mine = np.array(reader.positives)
    others = split.background[~np.isin(split.background, mine)]
    y = np.concatenate([np.ones(len(mine)), np.zeros(len(others))])
    clf = LinearSVC(class_weight="balanced", max_iter=10_000, tol=1e-6, C=0.01)
    clf.fit(x[np.concatenate([mine, others])], y)
    sparse = np.asarray(clf.decision_function(x[split.candidates]))
    ranked["tf-idf SVM vs the 2,000 background"] = sparse
    ranked[f"{ours} + tf-idf SVM vs background (z-sum)"] = zscore(ranked[ours]) + zscore(sparse)


@dataclass
class Fused:
    """A tf-idf logistic regression against production's background, fused with ours and
    the nearest positive: the weighted sum of their z-scores over the candidates."""

    c: float = 10.0
    background: int = 1000
    weights: tuple[float, float, float] = (1.0, 0.5, 0.5)  # tf-idf LR, ours, nearest positive
    solver: str = "lbfgs"  # production's L-BFGS, or sklearn's "liblinear" (bias regularised)


def fit_sparse(pos: Any, neg: Any, c: float) -> tuple[NDArray[np.float32], float]:
    """production's objective and L-BFGS (``recommend.model``, its private parts) on sparse
    rows: balanced classes, ridge 1/(C·n), the bias unregularised."""
    from paperfeed.recommend import model

    blocks = [
        model._Block(pos, np.full(pos.shape[0], 0.5 / pos.shape[0]), 1.0),
        model._Block(neg, np.full(neg.shape[0], 0.5 / neg.shape[0]), 0.0),
    ]
    squares = sum(np.asarray(b.rows.multiply(b.rows).T @ b.weights).ravel() for b in blocks)
    ridge = 1.0 / (c * (pos.shape[0] + neg.shape[0]))
    inverse = 1.0 / np.append(0.25 * squares + ridge, 0.25)
    w = model._lbfgs(model._Objective(blocks, ridge), inverse)
    return w[:-1].astype(np.float32), float(w[-1])


def fit_liblinear(pos: Any, neg: Any, c: float) -> tuple[NDArray[np.float32], float]:
    """The same model by sklearn's liblinear: its C multiplies the summed losses, so
    C·n/2 with balanced weights is production's C (but liblinear regularises the bias)."""
    from sklearn.linear_model import LogisticRegression

    rows = scipy_vstack(pos, neg)
    y = np.r_[np.ones(pos.shape[0]), np.zeros(neg.shape[0])]
    lr = LogisticRegression(C=c * rows.shape[0] / 2, solver="liblinear", class_weight="balanced")
    lr.fit(rows, y)
    return lr.coef_[0].astype(np.float32), float(lr.intercept_[0])


def fused_extras(
    x: Any, cfg: Fused, split: Split, reader: Reader, ranked: dict[str, Any], ours: str
) -> None:
    mine = np.array(reader.positives)
    others = split.background[: cfg.background]
    others = others[~np.isin(others, mine)]
    if cfg.solver == "liblinear":
        w, b = fit_liblinear(x[mine], x[others], cfg.c)
    else:
        w, b = fit_sparse(x[mine], x[others], cfg.c)
    sparse = x[split.candidates] @ w + b
    solver = "" if cfg.solver == "lbfgs" else f" ({cfg.solver})"
    name = f"tf-idf LR{solver} C={cfg.c:g} vs {cfg.background} background"
    ranked[name] = sparse
    ws, wo, wn = cfg.weights
    fused = ws * zscore(sparse) + wo * zscore(ranked[ours])
    ranked[f"fused: {ws:g}·{name} + {wo:g}·{ours} + {wn:g}·nearest"] = fused + wn * zscore(
        ranked["nearest positive"]
    )
    # without the nearest positive (its 10,000 × 200 products cost the most at scoring)
    fused += wn * zscore(ranked[ours])
    ranked[f"fused: {ws:g}·{name} + {wo + wn:g}·{ours}"] = fused


def production_terms(corpus: Corpus) -> Any:
    """Every paper's term rows as production makes them (``recommend/terms.py``): counted
    from title and abstract (cached), weighed by the corpus's idf."""
    import scipy.sparse

    from paperfeed.recommend import terms

    saved = CACHE / f"recommend-production-counts-{len(corpus.ids)}.npz"
    if saved.exists():
        counts = scipy.sparse.load_npz(saved).tocsr()
    else:
        started = time.perf_counter()
        texts = [
            terms.paper_text(t, a) for t, a in zip(corpus.titles, corpus.abstracts, strict=True)
        ]
        counts = terms.count(texts)
        CACHE.mkdir(parents=True, exist_ok=True)
        scipy.sparse.save_npz(saved, counts)
        print(f"production term counts in {time.perf_counter() - started:.0f} s", flush=True)
    return terms.weigh(counts, terms.idf(counts))


def production_extras(
    x: Any, split: Split, reader: Reader, ranked: dict[str, Any], ours: str
) -> None:
    """ "production (fused)": the shipped model, by the shipped code (``ours`` is
    ``model.fit`` at production's defaults, already ranked)."""
    from paperfeed.recommend import service, train
    from paperfeed.recommend.fuse import fuse
    from paperfeed.recommend.sparse_model import fit_sparse

    mine = np.array(reader.positives)  # most recent first
    others = split.background[:1000]
    others = others[~np.isin(others, mine)]
    words = train.fit_terms(x[mine], x[others], np.ones(len(others)))
    every = fit_sparse(x[mine], x[others], c=train.TERMS_C)  # before keeping the largest
    nearest = ranked["nearest positive"] if len(mine) <= service.NEAREST_CAP else None
    if nearest is None:
        nearest = ranked[f"nearest, {service.NEAREST_CAP} most recent positives"]
    cands = x[split.candidates]
    ranked["production (fused)"] = fuse(words.score(cands), ranked[ours], nearest)
    ranked["production, every term weight kept"] = fuse(every.score(cands), ranked[ours], nearest)


def evaluate(
    split: Split,
    vec: dict[int, Floats],
    configs: dict[str, Ours],
    tfidf: Any = None,
    fused: Fused | None = None,
    production: Any = None,
) -> dict[str, list[tuple[float, float, float]]]:
    """Per method, per reader: (nDCG@10, recall@50, MRR)."""
    cand = np.stack([vec[int(r)] for r in split.candidates])
    rng = np.random.default_rng([SEED, int(split_start(split))])
    out: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    spent: dict[str, float] = defaultdict(float)
    for reader in split.readers:
        pos = np.stack([vec[r] for r in reader.positives])
        sims = cand @ pos.T
        mean = pos.mean(axis=0)
        ranked: dict[str, Any] = {
            "random": rng.random(len(cand)),
            "most recent": split.days[split.candidates],
            "mean embedding": cand @ (mean / np.linalg.norm(mean)),
            "nearest positive": sims.max(axis=1),
            "nearest, 3 most recent positives": sims[:, :3].max(axis=1),
        }
        for label, cfg in configs.items():
            started = time.perf_counter()
            ranked[label] = ours_scores(cfg, pos, split, reader, vec, cand)
            spent[label] += time.perf_counter() - started
        if tfidf is not None and fused is None:
            sparse_extras(tfidf, split, reader, ranked, next(iter(configs)))
        if tfidf is not None and fused is not None:
            started = time.perf_counter()
            fused_extras(tfidf, fused, split, reader, ranked, next(iter(configs)))
            spent["tf-idf LR + fusion"] += time.perf_counter() - started
        if production is not None:
            from paperfeed.recommend.service import NEAREST_CAP

            ranked[f"nearest, {NEAREST_CAP} most recent positives"] = sims[:, :NEAREST_CAP].max(
                axis=1
            )
            started = time.perf_counter()
            production_extras(production, split, reader, ranked, next(iter(configs)))
            spent["production (fused)"] += time.perf_counter() - started
        for label, scores in ranked.items():
            out[label].append(metrics(np.asarray(scores), reader.relevant))
    for label, seconds in spent.items():
        print(f"  {label}: {1000 * seconds / len(split.readers):.1f} ms a reader", flush=True)
    return out


def time_fused(x: Any, cfg: Fused, split: Split, vec: dict[int, Floats], n: int = 30) -> None:
    """Training with 200 positives against ``cfg.background`` papers and scoring 10,000
    candidates, per simulated reader: real papers (those with an embedding at hand)."""
    from sklearn.linear_model import LogisticRegression

    from paperfeed.recommend.model import Background, fit

    rng = np.random.default_rng(SEED)
    bg_rows = split.background[: cfg.background]
    pool = np.array(sorted(set(vec) - {int(r) for r in bg_rows}))
    bg_x, bg_e = x[bg_rows], Background.of(np.stack([vec[int(r)] for r in bg_rows]))
    times: dict[str, list[tuple[float, float]]] = defaultdict(list)

    def clocked(name: str, run: Any, *args: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        out = run(*args)
        times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
        return out

    def fused_top(sparse: Any, model: Any, cand_e: Floats, pos_e: Floats, near: float) -> Any:
        ws, wo, _ = cfg.weights
        x_cand, w, b = sparse
        scores = ws * zscore(x_cand @ w + b) + wo * zscore(model.score(cand_e))
        if near:
            scores += near * zscore((cand_e @ pos_e.T).max(axis=1))
        return np.argpartition(-scores, 50)[:50]

    nonzero: list[int] = []
    lr = LogisticRegression(
        C=cfg.c * (200 + len(bg_rows)) / 2, solver="liblinear", class_weight="balanced"
    )
    y = np.r_[np.ones(200), np.zeros(len(bg_rows))]
    for _ in range(n):
        rows = rng.choice(pool, 10_200, replace=False)
        pos, cand = rows[:200], rows[200:]
        pos_e = np.stack([vec[int(r)] for r in pos])
        cand_e, cand_x = np.stack([vec[int(r)] for r in cand]), x[cand]
        w, b = clocked("fit: tf-idf LR (production L-BFGS)", fit_sparse, x[pos], bg_x, cfg.c)
        nonzero.append(int(np.count_nonzero(w)))
        model = clocked(
            "fit: ours (embeddings, C=1)",
            partial(fit, background=bg_e, c=1.0),
            pos_e,
            np.empty((0, pos_e.shape[1])),
        )
        clocked("fit: tf-idf LR, sklearn liblinear", lr.fit, scipy_vstack(x[pos], bg_x), y)
        for near in (cfg.weights[2], 0.0):
            label = "tf-idf LR + ours" + (" + nearest" if near else "")
            clocked(
                f"score 10,000: {label}, fused, top 50",
                fused_top,
                (cand_x, w, b),
                model,
                cand_e,
                pos_e,
                near,
            )
        clocked("score 10,000: tf-idf part only", cand_x.dot, w)
        clocked("score 10,000: nearest of 200 positives only", cand_e.dot, pos_e.T)
    print(
        f"timing, {n} simulated readers, 200 positives, {len(bg_rows)} background, "
        f"load {' '.join(f'{v:.2f}' for v in os.getloadavg())} (wall median / p95, CPU median):"
    )
    for name, values in times.items():
        ms = 1000 * np.array(values)
        wall, cpu = ms[:, 0], ms[:, 1]
        median, p95 = np.median(wall), np.percentile(wall, 95)
        print(f"  {name}: {median:.2f} / {p95:.2f} ms, CPU {np.median(cpu):.2f} ms")
    print(f"  tf-idf LR weights: median {np.median(nonzero):.0f} non-zero of {x.shape[1]}")
    per_paper = x.nnz / x.shape[0] * 8 + 4
    print(
        f"tf-idf {x.shape}: {x.nnz / x.shape[0]:.1f} non-zeros a paper, "
        f"{per_paper:.0f} bytes a paper as CSR float32 + int32 (+ 1,536 for the embedding)"
    )


def scipy_vstack(a: Any, b: Any) -> Any:
    import scipy.sparse

    return scipy.sparse.vstack([a, b]).tocsr()


# --- the report ----------------------------------------------------------------------------------


def table(title: str, results: dict[str, list[tuple[float, float, float]]]) -> str:
    n = len(next(iter(results.values())))
    lines = [
        f"#### {title} ({n} readers)",
        "",
        "| method | nDCG@10 | recall@50 | MRR |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, rows in results.items():
        m = np.array(rows).mean(axis=0)
        lines.append(f"| {label} | {m[0]:.4f} | {m[1]:.4f} | {m[2]:.4f} |")
    return "\n".join(lines)


def compare(title: str, results: dict[str, list[tuple[float, float, float]]], ours: str) -> str:
    lines = [f"{title}, {ours} minus SVM recipe (paired bootstrap over readers, 95 %):"]
    a, b = np.array(results[ours]), np.array(results["SVM recipe"])  # all its negatives
    for k, name in enumerate(("nDCG@10", "recall@50", "MRR")):
        mean, low, high = bootstrap(a[:, k] - b[:, k])
        lines.append(f"- {name}: {mean:+.4f} [{low:+.4f}, {high:+.4f}]")
    return "\n".join(lines)


def label(cfg: Ours) -> str:
    half = "" if cfg.half_life is None else f", half-life {cfg.half_life:g} d"
    return f"ours C={cfg.c:g} bg={cfg.background}{half}"


def tune(split: Split, vec: dict[int, Floats]) -> dict[str, Ours]:
    """C and background size, then background weighting by age, on the dev cut-off only;
    chosen by the mean of nDCG@10 and recall@50 (the two goals)."""

    def best_of(grid: list[Ours], stage: str) -> Ours:
        results = evaluate(split, vec, {label(cfg): cfg for cfg in grid})
        ours = {k: v for k, v in results.items() if k.startswith("ours")}
        print(table(f"dev {split.cutoff}, {stage}", ours), flush=True)
        goal = {k: float(np.array(v)[:, :2].mean()) for k, v in ours.items()}
        return next(cfg for cfg in grid if label(cfg) == max(goal, key=goal.__getitem__))

    first = best_of(
        [Ours(c, bg) for c in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0) for bg in (500, 1000, 2000)],
        "C × background",
    )
    weighted = [Ours(first.c, first.background, h) for h in (30.0, 90.0, 365.0)]
    best = best_of([first, *weighted], "background weighted by age")
    print(f"best on dev: {label(best)}", flush=True)
    return {label(best).replace("ours", "ours tuned", 1): best}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readers", type=int, default=100, help="readers sampled a cut-off")
    parser.add_argument("--cutoffs", nargs="+", default=list(CUTOFFS), help="first one is dev")
    parser.add_argument(
        "--svm-negatives", type=int, default=0, help="0: all before the cut-off (the recipe)"
    )
    parser.add_argument("--svm-also", type=int, default=0, help="also with N negatives")
    parser.add_argument("--tune", action="store_true", help="grid on the dev cut-off")
    parser.add_argument("--no-svm", action="store_true")
    parser.add_argument("--ours", action="append", default=[], help="C:BACKGROUND, more of ours")
    parser.add_argument("--sparse", action="store_true", help="tf-idf vs background, fusion")
    parser.add_argument(
        "--fused", help="WS:WO:WN[:C[:BG]]: tf-idf LR fused with ours and nearest positive"
    )
    parser.add_argument(
        "--hashed", action="store_true", help="--fused on hashed 2^18 tf-idf, not the recipe's"
    )
    parser.add_argument("--solver", default="lbfgs", help="--fused's: lbfgs or liblinear")
    parser.add_argument("--time-fused", action="store_true", help="time the fused model, stop")
    parser.add_argument(
        "--production", action="store_true", help="the shipped fused model, by its own code"
    )
    parser.add_argument("--svm-only", action="store_true", help="only the SVM's cache")
    parser.add_argument("--embed-only", action="store_true", help="fill the cache, stop")
    parser.add_argument("--json", type=Path, help="write every reader's metrics here")
    args = parser.parse_args()
    if not all((DATA / name).is_dir() for name in SETS):
        print(f"skipped: {DATA}/{{{','.join(SETS)}}} not found (set PAPERFEED_BENCH_DATA)")
        return
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    corpus = load_corpus()
    print(f"corpus: {len(corpus.ids)} papers in {time.perf_counter() - started:.0f} s")
    splits = [make_split(corpus, c, args.readers, 2000) for c in args.cutoffs]
    for s in splits:
        print(
            f"cut-off {s.cutoff}: {len(s.candidates)} candidates, {s.eligible} eligible readers, "
            f"{len(s.readers)} sampled, {sum(len(r.relevant) for r in s.readers)} relevant, "
            f"{len(s.before)} papers before",
            flush=True,
        )
    need = {int(r) for s in splits for r in (*s.candidates, *s.background)}
    need |= {r for s in splits for reader in s.readers for r in reader.positives}
    if args.svm_only:  # fills the SVM's cache while another process embeds
        svm = Svm(corpus, args.svm_negatives)
        for s in splits:
            for reader in s.readers:
                svm.measured(s, reader)
        return
    vec = embed_rows(corpus, need)
    if args.embed_only:
        return
    configs = {label(cfg): cfg for cfg in (Ours(1.0, 1000), Ours(1.0, 2000))}
    for c, bg in (map(float, text.split(":")) for text in args.ours):
        configs[label(Ours(c, int(bg)))] = Ours(c, int(bg))
    if args.tune:
        configs |= tune(splits[0], vec)
    svms = [] if args.no_svm else [Svm(corpus, args.svm_negatives)]
    tfidf = svms[0].x if svms and (args.sparse or args.fused) else None
    if tfidf is not None and args.hashed:
        tfidf = hashed_tfidf(corpus)
    fused = None
    if args.fused:
        parts = [float(t) for t in args.fused.split(":")]
        fused = Fused(weights=(parts[0], parts[1], parts[2]), solver=args.solver)
        if len(parts) > 3:
            fused.c = parts[3]
        if len(parts) > 4:
            fused.background = int(parts[4])
    if args.time_fused and tfidf is not None:
        time_fused(tfidf, fused or Fused(), splits[-1], vec)
        return
    production = production_terms(corpus) if args.production else None
    every: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    for i, s in enumerate(splits):
        print(f"cut-off {s.cutoff} ({'dev' if i == 0 else 'test'}):", flush=True)
        every[s.cutoff] = evaluate(s, vec, configs, tfidf, fused, production)
    if args.svm_also:
        svms.append(Svm(corpus, args.svm_also))
    for i, s in enumerate(splits):  # last: ``--svm-only`` may have filled them meanwhile
        for svm in svms:
            name = "SVM recipe" + (f", {svm.negatives} negatives" if svm.negatives else "")
            every[s.cutoff][name] = [svm.measured(s, reader) for reader in s.readers]
        print(table(f"{s.cutoff} ({'dev' if i == 0 else 'test'})", every[s.cutoff]), flush=True)
    for name, chosen in (("test cut-offs", args.cutoffs[1:]), ("all cut-offs", args.cutoffs)):
        pooled: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for cutoff in chosen:
            for method, rows in every[cutoff].items():
                pooled[method] += rows
        if not pooled:
            continue
        print(table(name, pooled))
        if "SVM recipe" in pooled:
            for ours in [
                *configs,
                *(m for m in pooled if m.startswith(("fused", "tf-idf LR", "production"))),
            ]:
                print(compare(name, pooled, ours))
    if args.json:
        args.json.write_text(json.dumps(every))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
