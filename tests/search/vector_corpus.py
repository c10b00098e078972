"""An invented corpus for the semantic-search tests: four topics, every text written for the
tests. Papers of one topic share meaning far more than words, so a bag-of-words ranking would
not find the pairs that the embedding model finds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paperfeed.config import Settings
from paperfeed.search.embedder import Embedder, get_embedder
from paperfeed.store.db import Database
from tests.factories import add_paper

TOPICS: dict[str, list[tuple[str, str, str]]] = {
    "decoding": [
        (
            "2504.20001",
            "Speculative Decoding with Tiny Draft Models",
            "A small draft network proposes several tokens that a large language model "
            "verifies in one pass, which makes text generation three times faster.",
        ),
        (
            "2504.20002",
            "Faster Autoregressive Generation by Guess and Check",
            "We accelerate inference of big transformers for text by letting a cheap "
            "predictor guess upcoming words and accepting the guesses the big model agrees with.",
        ),
    ],
    "molecules": [
        (
            "2504.20003",
            "Message Passing Networks for Drug Toxicity",
            "Graph neural networks read atoms and chemical bonds to predict whether a "
            "candidate medicine is toxic.",
        ),
        (
            "2504.20004",
            "Learning Molecular Properties from Bond Graphs",
            "We predict solubility and binding of small molecules with neural networks "
            "that pass messages along the molecule's bonds.",
        ),
    ],
    "crops": [
        (
            "2504.20005",
            "Forecasting Wheat Harvests from Satellite Images",
            "Remote sensing imagery of farm fields predicts the yield of wheat weeks "
            "before harvest.",
        ),
        (
            "2504.20006",
            "Crop Yield Estimation with Multispectral Orbital Photos",
            "Agricultural output of maize and rice fields is estimated from images "
            "taken by earth observation satellites.",
        ),
    ],
    "robots": [
        (
            "2504.20007",
            "Legged Robots Learn to Climb Stairs",
            "A quadruped robot learns a walking controller in simulation with "
            "reinforcement learning and climbs real staircases.",
        ),
        (
            "2504.20008",
            "Sim-to-Real Locomotion for Four-Legged Machines",
            "Policies for walking trained with rewards in a physics simulator transfer to a "
            "physical dog-like robot on rough terrain.",
        ),
    ],
}

TOPIC_OF = {arxiv_id: topic for topic, papers in TOPICS.items() for arxiv_id, _, _ in papers}


def seed_topics(db: Database) -> dict[str, int]:
    """Add every paper; arXiv id → papers.id."""
    return {
        arxiv_id: add_paper(db, arxiv_id, title=title, abstract=abstract)
        for papers in TOPICS.values()
        for arxiv_id, title, abstract in papers
    }


def partner(arxiv_id: str) -> str:
    """The other paper of the same topic."""
    (other,) = [a for a, _, _ in TOPICS[TOPIC_OF[arxiv_id]] if a != arxiv_id]
    return other


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedder]:
    """The real model, loaded once per test session (the ONNX export is cached on disk)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("embedder"))
    yield get_embedder(settings)
