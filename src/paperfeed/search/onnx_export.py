"""The ONNX file of the ``onnx`` / ``onnx-int8`` embedding backends: all-MiniLM-L6-v2 with
mean pooling and normalisation, exported once with PyTorch, fused by ONNX Runtime's BERT
optimiser and, for int8, quantised per channel. Each file is written to a temporary name and
renamed, so concurrent workers never read half a file."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperfeed.search.minilm import DIM, MODEL_NAME, model_path

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

# Bump when the export recipe changes: old files are then ignored and exported again.
EXPORT_VERSION = 1

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
    # lazy: the export's libraries load only when a model is exported
    import torch
    import transformers
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel

    source = model_path()
    # The weights come from a local file: its loading bar is noise on a first `make run`.
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
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
        with torch.no_grad(), _quiet_export(torch):
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


@contextmanager
def _quiet_export(torch: Any) -> Iterator[None]:
    """Silence the tracer's warnings about this model, which are not the user's business: the
    graph is traced with dynamic axes and checked against the reference embeddings
    (tests/search), so a Python boolean made a constant or the opset's index pattern is known
    and harmless. Only these two, only during the export (under the export lock)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings(
            "ignore", message="Exporting aten::index operator", category=UserWarning
        )
        yield


def _quantise(source: Path, path: Path) -> None:
    # lazy: the export's libraries load only when a model is exported
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
