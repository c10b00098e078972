"""Known-item search quality, per mode, style and split, on two real corpora; CSFCube too.

For each corpus the papers are loaded into a temporary SQLite store through the project's own
ingest path (``ingest_records``), the keyword index and the vectors are built the way
``paperfeed index update`` builds them, then each known-item query of
``benchmarks/known_items/<corpus>.jsonl`` is asked in four ways:

- ``bm25``: a plain BM25 reference, its own tantivy index over title + abstract (default
  tokenizer: lower-cased words, no stemming, no stop words, no boosts), any word;
- ``keyword``: paperfeed's keyword index alone, as the hybrid search asks it;
- ``page``: the search service as the search page calls it (``/search``);
- ``api``: ``GET /api/papers/search?q=…&limit=10`` through the app (the real route).

A row is ``{"query" | "sentence", "arxiv_id", "style", "split"}``; a ``"sentence": N`` row
(style ``pasted``) asks the N-th sentence of the paper's abstract, cut by
``known_items/sentences.py`` (so no abstract text is stored in the repository). Reported:
MRR@10 and recall@10 per mode, overall, per split and per style (and per split × style).
Tune on ``dev`` only; ``test`` confirms.

Embeddings of the papers are cached in ``benchmarks/.cache`` (ignored), keyed by corpus and
model, so a rerun skips the minute or two of embedding. ``--csfcube`` also runs
``bench_similar_csfcube.py`` (similar papers, NDCG@20).

    .venv/bin/python benchmarks/bench_search_quality.py [--corpus feb2025-cs-ai] [--json out]
        [--items DIR] [--csfcube]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from known_items.sentences import split_sentences  # noqa: E402

DATA = Path(
    os.environ.get("PAPERFEED_BENCH_DATA")
    or next((p / "shared" / "data" for p in HERE.parents if (p / "shared" / "data").is_dir()), ".")
)
CACHE = HERE / ".cache"
CORPORA = {
    "feb2025-cs-ai": DATA / "arxiv-cs-ai-daydayarxiv" / "arxiv-cs-ai-2025-02.jsonl.gz",
    "oct2025-cs": DATA / "arxiv-daily-cs" / "arxiv-2025-10.jsonl.gz",
}
MODES = ("bm25", "keyword", "page", "api")
K = 10


# --- the store ---------------------------------------------------------------------------------


def settings_for(folder: Path, **overrides: Any) -> Any:
    from paperfeed.config import Settings

    models = CACHE / "models"
    models.mkdir(parents=True, exist_ok=True)
    return Settings(
        data_dir=folder,
        database_url=None,
        embedding_model_dir=models,
        embedding_threads=int(os.environ.get("BENCH_THREADS", "2")),
        search_sync_seconds=3600,
        cache_seconds=0,
        **overrides,
    )


def build_store(corpus: str, folder: Path, *more: str) -> tuple[Any, Any]:
    """Ingest the corpus (and ``more``) into ``folder``, build both indexes; (settings,
    database)."""
    from paperfeed.search.keyword import get_keyword_index
    from paperfeed.search.vectors import get_vector_search
    from paperfeed.sources.pipeline import ingest_records
    from paperfeed.sources.readers import read_jsonl
    from paperfeed.store.db import get_database

    settings = settings_for(folder)
    db = get_database(settings)
    db.upgrade()
    started = time.perf_counter()
    names = [corpus, *more]
    stats = ingest_records(db, read_jsonl([CORPORA[name] for name in names]))
    get_keyword_index(settings).update(db)
    vectors = get_vector_search(settings)
    if vectors is None:
        raise SystemExit("the embedder is unavailable: semantic search cannot be measured")
    model = vectors.model.replace(":", "-")
    caches = [embedding_cache(vectors.embedder, CACHE / f"{name}-{model}") for name in names]
    for cache in caches[1:]:
        caches[0].known.update(cache.known)
    with caches[0]:
        vectors.update(db)
    took = time.perf_counter() - started
    print(
        f"{'+'.join(names)}: {stats.inserted} papers ingested, indexed in {took:.1f} s", flush=True
    )
    return settings, db


class embedding_cache:
    """Serve ``embedder.embed`` from an .npz file of text hash → vector; new ones added."""

    def __init__(self, embedder: Any, stem: Path) -> None:
        self.embedder, self.path = embedder, stem.with_suffix(".npz")
        self.known: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as saved:
                self.known = dict(zip(saved["keys"].tolist(), saved["vectors"], strict=True))
        self.added = 0

    def __enter__(self) -> None:
        original = self.embedder.embed

        def embed(texts: list[str]) -> np.ndarray:
            keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
            missing = [i for i, k in enumerate(keys) if k not in self.known]
            if missing:
                fresh = original([texts[i] for i in missing])
                for i, vector in zip(missing, fresh, strict=True):
                    self.known[keys[i]] = vector
                self.added += len(missing)
            return np.stack([self.known[k] for k in keys]).astype(np.float32)

        self.embedder.embed = embed

    def __exit__(self, *exc: object) -> None:
        del self.embedder.embed  # the class's method again
        if self.added:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = np.array(list(self.known))
            np.savez(self.path, keys=keys, vectors=np.stack(list(self.known.values())))


# --- the plain BM25 reference ----------------------------------------------------------------


def reference_bm25(db: Any, folder: Path) -> Callable[[str], list[str]]:
    """A plain BM25 over title + abstract: arXiv ids of the best ``K`` for a query."""
    import tantivy
    from sqlalchemy import select

    from paperfeed.search.query import words_of
    from paperfeed.store.models import Paper

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("arxiv_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="default")
    builder.add_text_field("abstract", tokenizer_name="default")
    schema = builder.build()
    (folder / "bm25").mkdir()
    index = tantivy.Index(schema, path=str(folder / "bm25"))
    writer = index.writer()
    with db.read() as session:
        for arxiv_id, title, abstract in session.execute(
            select(Paper.arxiv_id, Paper.title, Paper.abstract)
        ):
            writer.add_document(
                tantivy.Document(arxiv_id=arxiv_id, title=title or "", abstract=abstract or "")
            )
    writer.commit()
    index.reload()
    searcher = index.searcher()

    def ask(text: str) -> list[str]:
        words = words_of(text)
        if not words:
            return []
        query = index.parse_query(" ".join(words), ["title", "abstract"])
        hits = searcher.search(query, K).hits
        return [searcher.doc(addr)["arxiv_id"][0] for _, addr in hits]

    return ask


# --- the known items ---------------------------------------------------------------------------


def known_items(corpus: str, folder: Path | None) -> list[dict[str, Any]]:
    """The corpus's known-item rows; the old project set (its papers in this corpus) when
    the corpus has none yet."""
    path = (folder or HERE / "known_items") / f"{corpus}.jsonl"
    if path.exists():
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    with gzip.open(CORPORA[corpus], "rt") as fh:
        ids = {json.loads(line)["id"] for line in fh}
    rows = [json.loads(line) for line in (HERE / "known_item_queries.jsonl").open()]
    print(f"{corpus}: no {path}; the old set's {len(rows)} rows in this corpus only")
    return [
        {"query": r["query"], "arxiv_id": r["arxiv_id"], "style": r["kind"], "split": "old"}
        for r in rows
        if r["arxiv_id"] in ids
    ]


def query_texts(db: Any, rows: list[dict[str, Any]]) -> list[str]:
    """Each row's query: as written, or the abstract's sentence it names."""
    from sqlalchemy import select

    from paperfeed.store.models import Paper

    with db.read() as session:
        abstracts = {a: b for a, b in session.execute(select(Paper.arxiv_id, Paper.abstract))}
    out = []
    for row in rows:
        if "query" in row:
            out.append(row["query"])
        else:
            out.append(split_sentences(abstracts.get(row["arxiv_id"]) or "")[row["sentence"]])
    return out


# --- the modes -----------------------------------------------------------------------------------


def askers(settings: Any, db: Any, folder: Path) -> dict[str, Callable[[str], list[str]]]:
    """Each mode: query → arXiv ids of its first ``K`` results."""
    from fastapi.testclient import TestClient

    from paperfeed.search import hybrid
    from paperfeed.search.keyword import get_keyword_index
    from paperfeed.search.query import parse_query
    from paperfeed.store.models import Paper
    from paperfeed.web.app import create_app

    index = get_keyword_index(settings)
    client = TestClient(create_app(settings, db))
    with db.read() as session:
        arxiv_of = dict(session.query(Paper.id, Paper.arxiv_id).all())

    def keyword(text: str) -> list[str]:
        return [arxiv_of[pid] for pid, _ in index.search(parse_query(text), K).hits]

    def page(text: str) -> list[str]:
        result = hybrid.search(db, settings, text, page_size=20, count=True)
        return [item.arxiv_id for item in result.items[:K]]

    def api(text: str) -> list[str]:
        answer = client.get("/api/papers/search", params={"q": text[:500], "limit": K})
        assert answer.status_code == 200, answer.text[:200]
        return [p["id"] for p in answer.json()]

    return {"bm25": reference_bm25(db, folder), "keyword": keyword, "page": page, "api": api}


def ranks(
    asks: dict[str, Callable[[str], list[str]]], rows: list[dict[str, Any]], texts: list[str]
) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {mode: [] for mode in asks}
    for row, text in zip(rows, texts, strict=True):
        for mode, ask in asks.items():
            got = ask(text)
            out[mode].append(got.index(row["arxiv_id"]) + 1 if row["arxiv_id"] in got else None)
    return out


# --- the report ----------------------------------------------------------------------------------


def scores(found: list[int | None]) -> tuple[float, float]:
    if not found:
        return 0.0, 0.0
    return (
        sum(1 / r for r in found if r) / len(found),
        sum(1 for r in found if r) / len(found),
    )


def groups(rows: list[dict[str, Any]]) -> Iterator[tuple[str, list[int]]]:
    """(label, row positions): all, each split, each style, each split × style."""
    by: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        split, style = row.get("split", "?"), row.get("style", "?")
        by["all"].append(i)
        by[f"split {split}"].append(i)
        by[f"style {style}"].append(i)
        by[f"{split} · {style}"].append(i)
    yield from sorted(
        by.items(), key=lambda kv: (kv[0] != "all", not kv[0].startswith("split"), kv[0])
    )


def table(title: str, rows: list[dict[str, Any]], found: dict[str, list[int | None]]) -> str:
    modes = list(found)
    lines = [
        f"### {title}",
        "",
        "| set | n | " + " | ".join(f"{m} MRR@10 / R@10" for m in modes) + " |",
        "| --- | ---: |" + " ---: |" * len(modes),
    ]
    for label, positions in groups(rows):
        cells = []
        for mode in modes:
            mrr, recall = scores([found[mode][i] for i in positions])
            cells.append(f"{mrr:.3f} / {recall:.3f}")
        lines.append(f"| {label} | {len(positions)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_corpus(corpus: str, items: Path | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix=f"pf-quality-{corpus}-") as tmp:
        folder = Path(tmp)
        settings, db = build_store(corpus, folder)
        rows = known_items(corpus, items)
        texts = query_texts(db, rows)
        found = ranks(askers(settings, db, folder), rows, texts)
        db.dispose()
    for row in rows:
        row["corpus"] = corpus
    return rows, found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", action="append", choices=list(CORPORA))
    parser.add_argument("--items", type=Path, help="folder of <corpus>.jsonl (default: ours)")
    parser.add_argument("--json", type=Path, help="also write every rank here")
    parser.add_argument("--csfcube", action="store_true", help="also run CSFCube")
    parser.add_argument("--keep", type=Path, help="only build a store of both corpora here")
    args = parser.parse_args()
    if args.keep:  # for bench_search.py latency: PAPERFEED_DATA_DIR=that folder
        first, *rest = CORPORA
        build_store(first, args.keep, *rest)[1].dispose()
        return
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    every_row: list[dict[str, Any]] = []
    every_rank: dict[str, list[int | None]] = defaultdict(list)
    for corpus in args.corpus or list(CORPORA):
        rows, found = run_corpus(corpus, args.items)
        print(table(f"{corpus} ({len(rows)} queries)", rows, found) + "\n", flush=True)
        every_row += rows
        for mode, positions in found.items():
            every_rank[mode] += positions
    if len(args.corpus or CORPORA) > 1:
        print(table(f"both corpora ({len(every_row)} queries)", every_row, every_rank))
    if args.json:
        args.json.write_text(json.dumps({"rows": every_row, "ranks": every_rank}))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.csfcube:
        import bench_similar_csfcube

        sys.argv = [sys.argv[0]]
        bench_similar_csfcube.main()


if __name__ == "__main__":
    main()
