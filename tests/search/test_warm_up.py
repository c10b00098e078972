"""A web worker loads the embedding model, its query session and the indexes before it accepts
requests (``PAPERFEED_EMBEDDING_LOAD_AT_START``), so no reader's first search waits for them.

How it is told: once the app has started, loading a model or making an ONNX Runtime session
is made to fail. A first search that still needed either falls back to keyword only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.search import embedder as embedder_module
from paperfeed.search import vectors as vectors_module
from paperfeed.search.indexing import update_indexes
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.search.conftest import LANTERN


def _forbid_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("loaded at the first search, not at start")

    monkeypatch.setattr(embedder_module.Embedder, "__init__", refuse)
    # lazy: the runtime the onnx backend loads
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)


@pytest.mark.parametrize("at_start", [True, False])
def test_the_model_is_loaded_when_the_worker_starts(
    settings: Settings,
    database: Database,
    corpus: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
    at_start: bool,
) -> None:
    own = settings.model_copy(
        update={"embedding_load_at_start": at_start, "search_sync_seconds": 0.0}
    )
    update_indexes(database, settings)  # both indexes hold the corpus
    # A new worker: no embedder or vector search loaded in this process yet.
    monkeypatch.setattr(embedder_module, "_embedders", {})
    monkeypatch.setattr(vectors_module, "_instances", {})
    with TestClient(create_app(own, database)) as client:
        _forbid_loading(monkeypatch)
        answer = client.get("/api/papers/search", params={"q": "lanterns guiding planners"})
    assert answer.status_code == 200
    assert (answer.headers["x-search-mode"] == "hybrid") is at_start
    assert answer.json()[0]["id"] == LANTERN
