"""A small invented site for the page and feed tests, and a TestClient on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.db import Database
from paperfeed.store.models import SiteMeta
from paperfeed.web.app import create_app
from tests.factories import add_entry

FRIDAY = dt.date(2025, 3, 7)
MONDAY = dt.date(2025, 3, 10)
WEDNESDAY = dt.date(2025, 3, 12)
FEBRUARY_DAY = dt.date(2025, 2, 14)


def seed_site(db: Database) -> None:
    """Friday (3 papers), an empty weekend, Monday (2), Wednesday (1), and one day in February."""
    at = dt.datetime.combine
    add_entry(
        db,
        "2503.00001",
        FRIDAY,
        upvotes=10,
        submitted_at=at(FRIDAY, dt.time(9)),
        title="Gradient Gardens for Sparse Mixtures",
    )
    add_entry(
        db,
        "2503.00002",
        FRIDAY,
        upvotes=25,
        submitted_at=at(FRIDAY, dt.time(10)),
        submitted_by="alice",
        title="Lanterns: Tiny Models That Read Maps",
        authors=["Ann One", "Ben Two", "Cat Three", "Dan Four", "Eve Five"],
        github_repo="https://github.com/example/lanterns",
        github_stars=1234,
        project_page="https://example.org/lanterns",
        comment="12 pages, 4 figures",
        journal_ref="Journal of Invented Results 1 (2025) 1-12",
        doi="10.1234/invented.5678",
        categories=["cs.CL", "cs.LG", "cs.AI"],
        primary_category="cs.LG",
        version=2,
        imported_comments=7,
    )
    add_entry(
        db,
        "2503.00003",
        FRIDAY,
        upvotes=10,
        submitted_at=at(FRIDAY, dt.time(8)),
        title="Quiet Tokens and Loud Gradients",
    )
    add_entry(
        db,
        "2503.00004",
        MONDAY,
        upvotes=3,
        submitted_at=at(MONDAY, dt.time(8)),
        title="Orchards of Attention",
    )
    add_entry(
        db,
        "2503.00005",
        MONDAY,
        upvotes=5,
        submitted_at=at(MONDAY, dt.time(9)),
        title="<script>alert('x')</script> & Friends",
    )
    add_entry(
        db,
        "2503.00006",
        WEDNESDAY,
        upvotes=1,
        submitted_at=at(WEDNESDAY, dt.time(9)),
        title="Wednesday Whales in Vector Space",
    )
    add_entry(
        db,
        "hep-th/9901001",
        FEBRUARY_DAY,
        upvotes=2,
        submitted_at=at(FEBRUARY_DAY, dt.time(9)),
        title="An Old-Style Identifier on Strings",
        categories=["hep-th"],
        primary_category="hep-th",
    )
    # Featured a second time, on Monday: its page lists both days.
    add_entry(db, "2503.00001", MONDAY, submitted_at=at(MONDAY, dt.time(7)))


def set_demo(db: Database) -> None:
    with db.write() as s:
        s.add(SiteMeta(key="demo", value="1"))


@pytest.fixture
def site(database: Database) -> Database:
    seed_site(database)
    return database


@pytest.fixture
def client(settings: Settings, site: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, site)) as c:
        yield c


@pytest.fixture
def empty_client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database)) as c:
        yield c
