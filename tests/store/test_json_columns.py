"""JSON columns read on PostgreSQL through orjson (``db.json_loads``) read every value as the
standard library does: random documents with what orjson refuses or reads otherwise (NaN,
infinities, integers beyond 64 bits either sign, lone surrogates, non-ASCII text), by the
function and through a JSON column of the real store (SQLite, and PostgreSQL when
PAPERFEED_TEST_DATABASE_URL names one)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from paperfeed.store.db import Database, json_loads
from paperfeed.store.models import IndexState

ATOMS: list[Any] = [
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    -(10**19),
    123456789012345678,
    0.1,
    -0.0,
    1e300,
    "",
    "plain",
    "é ü 中文 🎉",
    'quote " and \\ backslash',
    True,
    False,
    None,
]
# What PostgreSQL's json type refuses to store, but json.dumps writes.
UNSTORABLE: list[Any] = [float("nan"), float("inf"), float("-inf"), "\ud800 lone"]


def _document(rng: random.Random, atoms: list[Any], depth: int = 0) -> Any:
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(atoms)
    if rng.random() < 0.5:
        return [_document(rng, atoms, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{n}": _document(rng, atoms, depth + 1) for n in range(rng.randint(0, 4))}


@pytest.mark.parametrize("seed", range(200))
def test_json_loads_reads_as_the_standard_library(seed: int) -> None:
    text = json.dumps(_document(random.Random(seed), ATOMS + UNSTORABLE))
    expected = repr(json.loads(text))
    assert repr(json_loads(text.encode())) == expected
    assert repr(json_loads(text)) == expected


def test_a_json_column_reads_back_what_was_written(database: Database) -> None:
    rng = random.Random(7)
    documents = {f"doc {n}": {"value": _document(rng, ATOMS)} for n in range(40)}
    with database.write() as s:
        s.add_all(IndexState(name=name, info=doc) for name, doc in documents.items())
    with database.read() as s:
        read = {row.name: row.info for row in s.query(IndexState)}
    assert {k: repr(v) for k, v in read.items()} == {k: repr(v) for k, v in documents.items()}
