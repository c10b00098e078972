"""Fit the ranking's constants on the known-item sets' **dev** split only (test stays unseen).

Builds each corpus's store as ``bench_search_quality.py`` does (embeddings from its cache),
then for every keyword configuration (field boosts, how many words a long query keeps, fuzzy
matching of unknown words) asks the keyword index and the semantic side once per dev query,
and fuses the two lists for every (k, semantic weight) of the grid with the service's own
``fusion.fuse``. Prints keyword-only and hybrid MRR@10 / recall@10 per configuration, best
first; the winners go into ``keyword_query`` / ``Settings`` and are confirmed on test with
``bench_search_quality.py``.

    .venv/bin/python benchmarks/tune_search.py [--split dev] [--corpus NAME] [--ablation]

``--ablation`` prints the steps from the old constants to the fitted ones one at a time
(``STEPS``); with ``--split test`` it confirms them on the held-out half.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path
from typing import Any

from bench_search_quality import CORPORA, K, build_store, known_items, query_texts, scores

TITLE = (1.0, 1.5, 2.0, 3.0)
AUTHORS = (1.0, 2.0)
LONG = (8, 32)
FUZZY = (0.0, 3.0)  # weight of a fuzzy match (0: off)
AUTHOR_BOOST = (0.0, 3.0)
RRF_K = (5.0, 10.0, 20.0, 60.0)
SEMANTIC_WEIGHT = (0.75, 1.0, 1.5)
ABLATION = False
DEPTH = 200
# --ablation: the steps from the old constants to the fitted ones, one change at a time:
# (title, authors, long, fuzzy, author phrase, k, w).
STEPS = (
    ("old constants", (3.0, 2.0, 8, 0.0, 0.0, 10.0, 1.0)),
    ("field weights all 1", (1.0, 1.0, 8, 0.0, 0.0, 10.0, 1.0)),
    ("long queries keep 32 words", (1.0, 1.0, 32, 0.0, 0.0, 10.0, 1.0)),
    ("fuzzy unknown words", (1.0, 1.0, 32, 3.0, 0.0, 10.0, 1.0)),
    ("author phrases", (1.0, 1.0, 32, 3.0, 3.0, 10.0, 1.0)),
    ("RRF k 5 (fitted)", (1.0, 1.0, 32, 3.0, 3.0, 5.0, 1.0)),
)


def ablation(settings: Any, found: list[dict[Any, Any]], targets: list[list[int]]) -> None:
    """Keyword and hybrid MRR@10 / recall@10 after each step of ``STEPS``."""
    from paperfeed.search.fusion import fuse

    print("| step | keyword MRR / R@10 | hybrid MRR / R@10 |\n| --- | ---: | ---: |")
    for name, (*config, k, weight) in STEPS:
        tuned = settings.model_copy(update={"search_rrf_k": k, "search_semantic_weight": weight})
        kw: list[int | None] = []
        hy: list[int | None] = []
        for lists_, wanted in zip(found, targets, strict=True):
            for hits, sem, target in zip(
                lists_[tuple(config)], lists_["semantic"], wanted, strict=True
            ):
                ids = [pid for pid, _ in hits[:K]]
                kw.append(ids.index(target) + 1 if target in ids else None)
                ranked = fuse(hits, sem, tuned, True)[0][:K]
                hy.append(ranked.index(target) + 1 if target in ranked else None)
        (km, kr), (hm, hr) = scores(kw), scores(hy)
        print(f"| {name} | {km:.3f} / {kr:.3f} | {hm:.3f} / {hr:.3f} |")


def lists(settings: Any, db: Any, texts: list[str]) -> dict[Any, Any]:
    """Per keyword configuration: each query's keyword hits; and the semantic hits."""
    from paperfeed.search import keyword_query
    from paperfeed.search.keyword import get_keyword_index
    from paperfeed.search.query import parse_query
    from paperfeed.search.vectors import get_vector_search

    index = get_keyword_index(settings)
    vectors = get_vector_search(settings)
    assert vectors is not None
    parsed = [parse_query(t) for t in texts]
    out: dict[Any, Any] = {
        "semantic": [vectors.nearest(vectors.embed_query(p.semantic_text), DEPTH) for p in parsed]
    }
    grid: Any = itertools.product(TITLE, AUTHORS, LONG, FUZZY, AUTHOR_BOOST)
    if ABLATION:
        grid = [tuple(step[:5]) for _, step in STEPS]
    for title, authors, long, fuzzy, named in grid:
        keyword_query.AUTHOR_BOOST = named
        keyword_query.FIELD_BOOSTS = {"title": title, "authors": authors, "abstract": 1.0}
        keyword_query.LONG_QUERY_TERMS = long
        keyword_query.FUZZY_UNKNOWN = fuzzy > 0
        keyword_query.FUZZY_WEIGHT = fuzzy
        out[(title, authors, long, fuzzy, named)] = [
            index.search(p, DEPTH, conjunctive=False).hits for p in parsed
        ]
    return out


def evaluate(settings: Any, found: list[dict[Any, Any]], targets: list[list[int]]) -> None:
    from paperfeed.search.fusion import fuse

    rows = []
    configs = [key for key in found[0] if key != "semantic"]
    for config in configs:
        kw: list[int | None] = []
        for lists_, wanted in zip(found, targets, strict=True):
            for hits, target in zip(lists_[config], wanted, strict=True):
                ids = [pid for pid, _ in hits[:K]]
                kw.append(ids.index(target) + 1 if target in ids else None)
        for k, weight in itertools.product(RRF_K, SEMANTIC_WEIGHT):
            tuned = settings.model_copy(
                update={"search_rrf_k": k, "search_semantic_weight": weight}
            )
            hy: list[int | None] = []
            for lists_, wanted in zip(found, targets, strict=True):
                for hits, sem, target in zip(
                    lists_[config], lists_["semantic"], wanted, strict=True
                ):
                    ranked = fuse(hits, sem, tuned, True)[0][:K]
                    hy.append(ranked.index(target) + 1 if target in ranked else None)
            rows.append((scores(hy), scores(kw), config, k, weight))
    rows.sort(key=lambda r: (r[0][0], r[1][0]), reverse=True)
    print(
        "| hybrid MRR / R@10 | keyword MRR / R@10 "
        "| title, authors, long, fuzzy, author phrase | k | w |"
    )
    print("| ---: | ---: | --- | ---: | ---: |")
    for (hm, hr), (km, kr), config, k, weight in rows[:25]:
        print(f"| {hm:.3f} / {hr:.3f} | {km:.3f} / {kr:.3f} | {config} | {k:g} | {weight:g} |")
    best_kw = max(rows, key=lambda r: r[1][0])
    print(f"best keyword-only: {best_kw[1][0]:.3f} / {best_kw[1][1]:.3f} with {best_kw[2]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="dev")
    parser.add_argument("--corpus", action="append", choices=list(CORPORA))
    parser.add_argument("--ablation", action="store_true", help="only the steps of STEPS")
    args = parser.parse_args()
    global ABLATION
    ABLATION = args.ablation
    found, targets = [], []
    settings = None
    for corpus in args.corpus or list(CORPORA):
        tmp = tempfile.TemporaryDirectory(prefix=f"pf-tune-{corpus}-")
        settings, db = build_store(corpus, Path(tmp.name))
        rows = [r for r in known_items(corpus, None) if r.get("split") == args.split]
        texts = query_texts(db, rows)
        with db.read() as session:
            from sqlalchemy import select

            from paperfeed.store.models import Paper

            ids = {a: i for a, i in session.execute(select(Paper.arxiv_id, Paper.id))}
        found.append(lists(settings, db, texts))
        targets.append([ids[r["arxiv_id"]] for r in rows])
        print(f"{corpus}: {len(rows)} {args.split} queries", flush=True)
    (ablation if args.ablation else evaluate)(settings, found, targets)


if __name__ == "__main__":
    main()
