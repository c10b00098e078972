"""The torch-bf16 embedding backend: close to the reference model, unit vectors, order kept.

Every text here was written for these tests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paperfeed.config import Settings
from paperfeed.search import embedder as embedder_module
from paperfeed.search.embedder import Embedder, get_embedder
from paperfeed.search.minilm import DIM, MODEL_NAME, model_path
from paperfeed.search.torch_bert import bf16_supported

LONG = " ".join(
    [
        "We study how a fleet of small delivery drones can share one charging station without",
        "waiting in long queues, and we propose a schedule that assigns charging slots by the",
        "remaining battery of each drone and by the distance to its next parcel.",
    ]
    * 12
)  # far beyond 256 tokens: truncated like an abstract that is too long

TEXTS = [
    "graph neural networks for traffic forecasting",
    "A compiler that turns spreadsheet formulas into vectorised code.",
    "Bird songs recorded in city parks are louder at dawn than in quiet forests, and we "
    "measure how traffic noise shifts the pitch of the calls over one spring.",
    LONG,
    "sparse attention",
    "We fine-tune a small language model to answer questions about train timetables, "
    "using synthetic dialogues generated from the published schedules of three regional "
    "railways, and report accuracy on questions that need arithmetic over departure times.",
    "Protein folding with diffusion models.",
    "An audit of fairness in loan approval models across regions, with a method that "
    "repairs the decision threshold per group while keeping the overall approval rate.",
    "robot arms",
    "Measuring glacier retreat from decades of aerial photographs with a segmentation "
    "network trained on a few hand-labelled images.",
]


@pytest.fixture(scope="module")
def bf16(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    # Batches of 3 with 2 workers: several batches of mixed widths, run on two threads.
    return Embedder(
        "torch-bf16", model_dir=tmp_path_factory.mktemp("models"), batch_size=3, threads=2
    )


@pytest.fixture(scope="module")
def reference_vectors() -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(model_path()), device="cpu", local_files_only=True)
    reference.max_seq_length = 256
    vectors = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def test_unit_vectors_close_to_the_reference(bf16: Embedder, reference_vectors: np.ndarray) -> None:
    vecs = bf16.embed(TEXTS)
    assert vecs.shape == (len(TEXTS), DIM) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    cosines = (vecs * reference_vectors).sum(axis=1)
    assert float(cosines.min()) >= 0.99, cosines
    assert bf16.embed([]).shape == (0, DIM)


def test_model_string_names_what_runs(bf16: Embedder) -> None:
    precision = "bf16" if bf16_supported() else "fp32"
    assert bf16.model == f"{MODEL_NAME}:torch-{precision}"
    others = {f"{MODEL_NAME}:{name}" for name in ("torch", "onnx", "onnx-int8")}
    assert bf16.model not in others


def test_order_is_kept_with_mixed_lengths(bf16: Embedder) -> None:
    vecs = bf16.embed(TEXTS)
    shuffle = np.random.default_rng(7).permutation(len(TEXTS))
    again = bf16.embed([TEXTS[i] for i in shuffle])
    assert np.allclose(again, vecs[shuffle], atol=2e-3)
    # one text alone (the query path: no worker threads, no padding) is the same vector
    for i in (0, 3, 5):
        alone = bf16.embed_one(TEXTS[i])
        assert float(alone @ vecs[i]) > 0.9995
    # the same text twice in one call gives the same vector twice
    twice = bf16.embed([TEXTS[2], TEXTS[8], TEXTS[2]])
    assert float(twice[0] @ twice[2]) > 0.9999


def test_concurrent_callers_get_their_own_vectors(bf16: Embedder) -> None:
    want = bf16.embed(TEXTS)
    got: dict[int, np.ndarray] = {}

    def call(i: int) -> None:
        got[i] = bf16.embed(TEXTS[i:] + TEXTS[:i])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(4):
        assert np.allclose(got[i], np.roll(want, -i, axis=0), atol=2e-3)


def test_float32_fallback_without_native_bf16(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    reference_vectors: np.ndarray,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(embedder_module, "bf16_supported", lambda: False)
    fp32 = Embedder("torch-bf16", model_dir=tmp_path, batch_size=4, threads=2)
    assert fp32.model == f"{MODEL_NAME}:torch-fp32"
    assert "float32" in caplog.text
    cosines = (fp32.embed(TEXTS) * reference_vectors).sum(axis=1)
    assert float(cosines.min()) > 0.9999


def test_an_error_in_a_worker_thread_reaches_the_caller(
    bf16: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert bf16._bert is not None
    real = bf16._bert.embed

    def flaky(ids: Any, mask: Any) -> Any:
        if ids.shape[1] > 200:
            raise RuntimeError("boom")
        return real(ids, mask)

    monkeypatch.setattr(bf16._bert, "embed", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        bf16.embed(TEXTS)


@pytest.fixture
def bf16_settings(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(data_dir=tmp_path, embedding_backend="torch-bf16")


def test_selectable_by_setting(bf16_settings: Settings) -> None:
    found = get_embedder(bf16_settings)
    assert found.backend == "torch-bf16" and found.model.startswith(f"{MODEL_NAME}:torch-")
    assert found.embed_one("a query about ocean waves").shape == (DIM,)
