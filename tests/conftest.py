"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when
PAPERFEED_TEST_DATABASE_URL names one), settings pointing at it, and the shared data path.

A test that asks for ``database`` gets a copy of a template upgraded once per test session
(per xdist worker), not its own Alembic upgrade: on PostgreSQL a ``CREATE DATABASE ...
TEMPLATE``, on SQLite a file copy. Tests marked ``real_upgrade`` (the migration tests) and
tests that only ask for ``settings`` keep an empty database, upgraded by the test itself."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
# servers the tests start), instead of once per test data dir. Concurrent first exports (xdist
# workers) are safe: each writes a temporary name of its own and renames it into place.
os.environ.setdefault(
    "PAPERFEED_EMBEDDING_MODEL_DIR", str(Path(tempfile.gettempdir()) / "paperfeed-test-models")
)


# Skips a run may have and still pass (see pytest_sessionfinish): everything else a test
# skips -- a missing service, browser or dev dependency -- fails the run, so that CI never
# goes green having silently not run part of the suite.
EXPECTED_SKIPS = re.compile(
    r"real data not available"  # ../shared/data lives beside the repo: absent on a clean clone
    r"|(PostgreSQL|SQLite|ONNX) only\b"  # the other database / embedding backend's test
)


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (it lives beside the repo)")
    return path


def cloned_from_template(item: pytest.Item) -> bool:
    """Whether this test's database starts as a copy of the upgraded template (the one
    place that decides): it asks for ``database`` and does not test the migrations."""
    fixturenames: list[str] = getattr(item, "fixturenames", [])
    return "database" in fixturenames and item.get_closest_marker("real_upgrade") is None


def _admin_execute(sql: str) -> None:
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def _postgres_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _create_postgres_database(template: str | None = None) -> tuple[str, str]:
    """Create a new PostgreSQL database next to the one named by the test URL: empty, or a
    copy of ``template``."""
    name = f"pf_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    try:
        _admin_execute(f'CREATE DATABASE "{name}"{clause}')
    except Exception as exc:  # server down, no rights: skip with the reason
        pytest.skip(f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string()}: {exc}")
    return _postgres_url(name), name


def _drop_postgres_database(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _upgraded(url: str) -> None:
    """Run the real Alembic upgrade on ``url`` and close every connection to it (a
    PostgreSQL template must have none while it is cloned)."""
    template = Database(url)
    try:
        template.upgrade()
    finally:
        template.dispose()


class PostgresDropper:
    """Drops finished tests' PostgreSQL databases on a thread of its own: a DROP DATABASE
    waits on the server's disk, and the next test need not wait with it."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pf-test-drop")
        self._drops: list[Future[None]] = []

    def drop(self, name: str) -> None:
        self._drops.append(self._pool.submit(_drop_postgres_database, name))

    def close(self) -> None:
        """Wait for every drop; one that failed fails the session here."""
        self._pool.shutdown(wait=True)
        for drop in self._drops:
            drop.result()


@pytest.fixture(scope="session")
def postgres_dropper() -> Iterator[PostgresDropper]:
    dropper = PostgresDropper()
    yield dropper
    dropper.close()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Name of a PostgreSQL database upgraded once for this session (or xdist worker)."""
    url, name = _create_postgres_database()
    try:
        _upgraded(url)
        yield name
    finally:
        _drop_postgres_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file upgraded once for this session (or xdist worker), its WAL folded into
    the main file so that copying that one file copies the whole database."""
    path = tmp_path_factory.mktemp("template") / "paperfeed.db"
    _upgraded(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "template WAL not checkpointed"
    return path


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    clone = cloned_from_template(request.node)
    if PG_URL:
        template = request.getfixturevalue("postgres_template") if clone else None
        dropper: PostgresDropper = request.getfixturevalue("postgres_dropper")
        url, name = _create_postgres_database(template)
        yield url
        db_module._database_for.cache_clear()
        dropper.drop(name)
    else:
        path = tmp_path / "paperfeed.db"
        if clone:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"


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
def database(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Database]:
    """An upgraded, empty paperfeed database (the same object the app and CLI would use)."""
    database = db_module.get_database(settings)
    if not cloned_from_template(request.node):
        database.upgrade()
    yield database
    database.dispose()


# --- unexpected skips fail the run ----------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--allow-skips",
        action="store_true",
        help="do not fail the run on a skip whose reason is not in tests/conftest.py's "
        "EXPECTED_SKIPS (a local run without Redis, Chromium, ...)",
    )


_unexpected_skips: list[str] = []


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _note_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        if not EXPECTED_SKIPS.match(reason):
            _unexpected_skips.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def _judges_skips(config: pytest.Config) -> bool:
    # Under xdist the controller sees every worker's reports; a worker leaves it to it.
    return not hasattr(config, "workerinput") and not config.getoption("allow_skips")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _unexpected_skips and _judges_skips(session.config) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _unexpected_skips and _judges_skips(config):
        terminalreporter.section("unexpected skips fail the run (see EXPECTED_SKIPS)", red=True)
        for line in _unexpected_skips:
            terminalreporter.line(line)
