"""A small invented corpus for the search tests (every sentence written for these tests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.store.db import Database
from tests.factories import add_entry, add_paper

LANTERN = "2503.10001"
QUOKKA = "2503.10002"
HARBOR = "2503.10003"
OLD = "2301.10004"
CODE = "2503.10005"

CORPUS: list[dict[str, Any]] = [
    {
        "arxiv_id": LANTERN,
        "title": "Lattice Lanterns Guide Recurrent Planners",
        "abstract": "We guide recurrent planners with lattice lanterns and measure the glow.",
        "authors": ["Ada Lovelace", "Bo Sample"],
        "categories": ["cs.AI", "cs.LG"],
        "primary_category": "cs.AI",
        "imported_upvotes": 7,
    },
    {
        "arxiv_id": QUOKKA,
        "title": "Quiet Quokkas Quantize Quickly",
        "abstract": "A study of quantized networks, where planners appear only in passing.",
        "authors": ["Cy Fixture"],
        "categories": ["cs.CL"],
        "primary_category": "cs.CL",
    },
    {
        "arxiv_id": HARBOR,
        "title": "Harbor Cranes and Container Scheduling",
        "abstract": "Scheduling container cranes in a busy harbor with integer programs.",
        "authors": ["Di Placeholder", "Ada Lovelace"],
        "categories": ["math.OC"],
        "primary_category": "math.OC",
    },
    {
        "arxiv_id": OLD,
        "title": "An Older Note on Recurrent Planners",
        "abstract": "Recurrent planners, revisited, from an earlier year.",
        "authors": ["Ed Archive"],
        "categories": ["cs.AI"],
        "primary_category": "cs.AI",
        "published_at": dt.datetime(2023, 1, 15, 9, 0),
    },
    {
        "arxiv_id": CODE,
        "title": "Open Source Lanterns for Robot Arms",
        "abstract": "Robot arms follow lanterns; the code is released.",
        "authors": ["Fay Coder"],
        "categories": ["cs.RO"],
        "primary_category": "cs.RO",
        "github_repo": "https://github.com/example/arms",
    },
]


def seed(db: Database) -> dict[str, int]:
    ids = {p["arxiv_id"]: add_paper(db, **p) for p in CORPUS}
    add_entry(db, LANTERN, dt.date(2025, 3, 3))
    return ids


@pytest.fixture
def corpus(database: Database) -> dict[str, int]:
    return seed(database)


@pytest.fixture
def fresh_settings(settings: Settings) -> Settings:
    """Settings whose searches check the database on every call (tests add papers late)."""
    return settings.model_copy(update={"search_sync_seconds": 0.0})


class FakeVectors:
    """A stand-in for paperfeed.search.vectors: ranks papers by a fixed order, honouring
    ``allowed_ids`` like the real one. ``calls`` records (query, k, allowed ids)."""

    def __init__(self, order: Sequence[int], fail: bool = False) -> None:
        self.order = list(order)
        self.fail = fail
        self.calls: list[tuple[str, int, list[int] | None]] = []

    def embed_query(self, query: str) -> str:
        if self.fail:
            raise RuntimeError("embedder crashed")
        return query  # the "vector" is the text itself

    def nearest(
        self, vector: Any, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        self.calls.append((str(vector), k, None if allowed_ids is None else list(allowed_ids)))
        allowed = None if allowed_ids is None else set(allowed_ids)
        hits = [pid for pid in self.order if allowed is None or pid in allowed]
        return [(pid, 1.0 - i / 100) for i, pid in enumerate(hits[:k])]

    def search(
        self, query: str, k: int, allowed_ids: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        return self.nearest(self.embed_query(query), k, allowed_ids)


@pytest.fixture
def no_vectors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(hybrid, "vector_search", lambda settings: None)
    yield
