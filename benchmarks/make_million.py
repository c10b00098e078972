"""A 1,000,000-paper bench corpus: the 140,877 real papers plus synthetic ones, and
synthetic clustered vectors, for the search benchmarks at the issue's "all of arXiv" size.

    export PAPERFEED_DATA_DIR=/tmp/pf1m           # outside the repository
    python benchmarks/make_million.py corpus /tmp/pf1m/synthetic.jsonl.gz
    paperfeed ingest jsonl --no-index /work/shared/data/arxiv-daily-cs/*.jsonl.gz \\
        /work/shared/data/arxiv-cs-ai-daydayarxiv/*.jsonl.gz /tmp/pf1m/synthetic.jsonl.gz
    paperfeed index rebuild --keyword-only
    python benchmarks/make_million.py vectors      # then: paperfeed index update

``corpus`` writes papers in the arXiv JSONL format ``paperfeed ingest jsonl`` reads. Each is
modelled on a real paper drawn at random: the same number of title and abstract words,
authors, categories and listing date; its words are drawn from the real titles' and
abstracts' word frequencies (so common words are as common as in arXiv and rare ones as
rare). Ids are new-style ids of 2015-2024 (``YYMM.NNNNN``), skipping the ids of real papers
(one set lists papers of 2024). Nothing is copied: no real title or abstract is written.

``vectors`` stores a synthetic unit vector for every paper that has none, under the
configured embedder's model name (so ``index update`` embeds nothing and builds the ANN
index from them): points around 1,000 random centres, spread like real sentence embeddings
on the unit sphere. Latency and memory do not depend on what the vectors mean; quality
figures on such a corpus would be meaningless and are not taken from it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = ("arxiv-daily-cs", "arxiv-cs-ai-daydayarxiv")


def real_papers() -> list[dict[str, Any]]:
    papers: dict[str, dict[str, Any]] = {}
    for name in SETS:
        for path in sorted((DATA / name).glob("*.jsonl.gz")):
            with gzip.open(path, "rt") as lines:
                for line in lines:
                    paper = json.loads(line)
                    papers[paper["id"]] = paper
    return list(papers.values())


def corpus(out: Path, total: int, seed: int) -> None:
    if not (DATA / SETS[0]).is_dir():
        sys.exit(f"no real data at {DATA} (see the repository's README)")
    started = time.monotonic()
    real = real_papers()
    title_words: Counter[str] = Counter()
    abstract_words: Counter[str] = Counter()
    for paper in real:
        title_words.update(paper["title"].split())
        abstract_words.update(paper["abstract"].split())
    taken = {paper["id"] for paper in real}
    rng = random.Random(seed)
    t_vocab, t_weights = zip(*title_words.items(), strict=True)
    a_vocab, a_weights = zip(*abstract_words.items(), strict=True)
    wanted = total - len(real)
    months = [f"{y % 100:02d}{m:02d}" for y in range(2015, 2025) for m in range(1, 13)]
    per_month = -(-wanted // len(months))
    print(f"{len(real):,} real papers, {wanted:,} to make ({per_month:,} a month)")
    made = 0
    with gzip.open(out, "wt", compresslevel=3) as sink:
        for month in months:
            n = min(per_month, wanted - made)
            if n <= 0:
                break
            models = rng.choices(real, k=n)
            titles = rng.choices(t_vocab, t_weights, k=sum(len(p["title"].split()) for p in models))
            words = rng.choices(
                a_vocab, a_weights, k=sum(len(p["abstract"].split()) for p in models)
            )
            ti = wi = 0
            number = 0
            for model in models:
                number += 1
                while f"{month}.{number:05d}" in taken:  # a real paper's id (older ones occur)
                    number += 1
                nt, nw = len(model["title"].split()), len(model["abstract"].split())
                paper = {
                    "id": f"{month}.{number:05d}",
                    "title": " ".join(titles[ti : ti + nt]),
                    "abstract": " ".join(words[wi : wi + nw]),
                    "authors": model["authors"],
                    "categories": model["categories"],
                    "primary_category": model.get("primary_category"),
                    "first_listed": model.get("first_listed"),
                    "listing_dates": model.get("listing_dates") or [],
                }
                ti += nt
                wi += nw
                sink.write(json.dumps(paper) + "\n")
            made += n
    print(f"wrote {made:,} synthetic papers to {out} in {time.monotonic() - started:.0f} s")


def vectors(seed: int, chunk: int = 20_000) -> None:
    import numpy as np
    from sqlalchemy import insert, select

    from paperfeed.config import get_settings
    from paperfeed.search.embedder import content_hash
    from paperfeed.search.vectors import get_vector_search
    from paperfeed.store.db import get_database
    from paperfeed.store.models import Paper, PaperEmbedding, utcnow

    settings = get_settings()
    search = get_vector_search(settings)
    if search is None:
        sys.exit("the embedder is off (PAPERFEED_EMBEDDING_BACKEND): no model name to store")
    db = get_database(settings)
    dim = 384
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    with db.read() as session:
        todo = session.execute(
            select(Paper.id, Paper.modified_at)
            .outerjoin(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
            .where(PaperEmbedding.paper_id.is_(None))
            .order_by(Paper.id)
        ).all()
    print(f"{len(todo):,} papers without a vector; model {search.model}")
    started = time.monotonic()
    for start in range(0, len(todo), chunk):
        rows = todo[start : start + chunk]
        points = centres[rng.integers(0, len(centres), len(rows))]
        # Noise of norm ~0.8 around a unit centre: neighbours at cosine ~0.6-0.8, as for
        # related abstracts under all-MiniLM-L6-v2.
        points = points + rng.standard_normal((len(rows), dim)).astype(np.float32) * 0.04
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        now = utcnow()
        with db.write() as session:
            session.execute(
                insert(PaperEmbedding),
                [
                    {
                        "paper_id": paper_id,
                        "model": search.model,
                        "dim": dim,
                        "vector": point.astype("<f4").tobytes(),
                        "content_hash": content_hash(search.model, f"synthetic {paper_id}"),
                        "paper_modified_at": modified,
                        "embedded_at": now,
                    }
                    for (paper_id, modified), point in zip(rows, points, strict=True)
                ],
            )
        print(f"  {start + len(rows):,} / {len(todo):,}", flush=True)
    print(f"stored in {time.monotonic() - started:.0f} s ({dt.datetime.now():%H:%M})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("corpus", help="write the synthetic papers (JSONL, gzip)")
    c.add_argument("out", type=Path)
    c.add_argument("--total", type=int, default=1_000_000, help="real + synthetic papers")
    c.add_argument("--seed", type=int, default=1)
    v = sub.add_parser("vectors", help="store synthetic vectors for papers that have none")
    v.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    if args.command == "corpus":
        corpus(args.out, args.total, args.seed)
    else:
        vectors(args.seed)


if __name__ == "__main__":
    main()
