"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when
PAPERFEED_TEST_DATABASE_URL names one), settings pointing at it, and the shared data path."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from paperfeed.config import Settings, get_settings
from paperfeed.store import db as db_module
from paperfeed.store.db import Database

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PG_URL = os.environ.get("PAPERFEED_TEST_DATABASE_URL", "")
# The embedding model is exported to ONNX once and kept here across test runs (and read by
# servers the tests start), instead of once per test data dir.
os.environ.setdefault(
    "PAPERFEED_EMBEDDING_MODEL_DIR", str(Path(tempfile.gettempdir()) / "paperfeed-test-models")
)


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (it lives beside the repo)")
    return path


def _fresh_postgres_database() -> tuple[str, str]:
    """Create a new, empty PostgreSQL database next to the one named by the test URL."""
    base = make_url(PG_URL)
    name = f"pf_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # server down, no rights: skip with the reason
        pytest.skip(f"PostgreSQL not reachable at {base.render_as_string()}: {exc}")
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres_database(name: str) -> None:
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        url, name = _fresh_postgres_database()
        yield url
        db_module._database_for.cache_clear()
        _drop_postgres_database(name)
    else:
        yield f"sqlite:///{tmp_path / 'paperfeed.db'}"


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings for this test, also exported as PAPERFEED_* so CLI commands see them."""
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", database_url)
    monkeypatch.setenv("PAPERFEED_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    db_module._database_for.cache_clear()
    current = get_settings()
    yield current
    # Dispose pools before the database is dropped (PostgreSQL refuses while connected).
    db_module.get_database(current).dispose()
    get_settings.cache_clear()
    db_module._database_for.cache_clear()


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """An upgraded, empty paperfeed database (the same object the app and CLI would use)."""
    database = db_module.get_database(settings)
    database.upgrade()
    yield database
    database.dispose()
