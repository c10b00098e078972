"""An invented site for the API tests, a TestClient on it, and helpers.

Days (2025): Fri 28 Feb; Mon 3 Mar, Tue 4 Mar, Fri 7 Mar (ISO week 10); Mon 10 Mar (week 11).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.web.app import create_app
from tests.factories import add_entry

FEB_28 = dt.date(2025, 2, 28)
MAR_3 = dt.date(2025, 3, 3)
MAR_4 = dt.date(2025, 3, 4)
MAR_7 = dt.date(2025, 3, 7)
MAR_10 = dt.date(2025, 3, 10)

A, B, C, D, E, F, G = (
    "2503.00001",
    "2503.00002",
    "2503.00003",
    "2503.00004",
    "2503.00005",
    "2502.00006",
    "hep-th/9901001",
)

Z_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second, micro))


def seed_api_site(db: Database) -> None:
    add_entry(
        db,
        A,
        MAR_3,
        upvotes=10,
        submitted_at=at(MAR_3, 8),
        submitted_by="alice",
        title="Lattice Lanterns for Recurrent Planners",
        abstract="We light recurrent planners with lattice lanterns and measure the glow.",
        authors=["Ada Example", "Bo Sample"],
        organization="acme",
        github_repo="https://github.com/example/lanterns",
        github_stars=42,
        project_page="https://example.org/lanterns",
        ai_summary="Lanterns help planners.",
        ai_keywords=["lanterns", "planners"],
        published_at=dt.datetime(2025, 3, 1, 17, 30),
        imported_comments=3,
    )
    add_entry(
        db,
        B,
        MAR_3,
        upvotes=10,
        submitted_at=at(MAR_3, 7),
        submitted_by="bob",
        title="Quiet Quokkas Quantize Quickly",
    )
    add_entry(
        db,
        C,
        MAR_3,
        upvotes=30,
        submitted_at=at(MAR_3, 9, 30, 15, 250_999),
        title="Thirty Votes of Tangled Tensors",
    )
    add_entry(db, D, MAR_4, upvotes=5, submitted_at=at(MAR_4, 8), submitted_by="alice")
    # A is featured again on Friday: once per period, twice in the all-entries list.
    add_entry(db, A, MAR_7, submitted_at=at(MAR_7, 10), submitted_by="alice")
    add_entry(db, G, MAR_7, upvotes=2, submitted_at=at(MAR_7, 8), title="Old Style Strings")
    add_entry(db, E, MAR_10, upvotes=1, submitted_at=at(MAR_10, 8))
    add_entry(db, F, FEB_28, upvotes=50, submitted_at=at(FEB_28, 8))


@pytest.fixture
def api_db(database: Database) -> Database:
    seed_api_site(database)
    return database


@pytest.fixture
def client(settings: Settings, api_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, api_db)) as test_client:
        yield test_client


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["paper"]["id"] if "paper" in i else i["id"] for i in items]
