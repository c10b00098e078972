# paperfeed — two commands on a fresh machine:
#   make run    set everything up and serve http://127.0.0.1:8000 on SQLite, with data in it
#   make test   set up, then lint (with the layers contract), type-check and run all tests
#               (SQLite, then PostgreSQL)
# and for the inner loop:
#   make check  lint, type-check and the fast tier (not marked slow) on SQLite, in parallel

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
# Workers for make check's fast tier; loadfile keeps each test module on one worker.
CHECK_WORKERS ?= auto

.PHONY: run test check lint types pytest pytest-pg pytest-fast install install-dev lock demo bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs come from the lock files (exact versions, made by `make lock` from pyproject.toml),
# then the project itself without resolving again. torch first: the CPU build (see README).
$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml requirements-dev.lock
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed

# Pin every dependency again from pyproject.toml (after changing it; commit both files).
LOCK_FLAGS := --quiet --strip-extras --allow-unsafe --no-header
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -o requirements-dev.lock pyproject.toml

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/paperfeed db upgrade
	$(BIN)/paperfeed demo --if-empty
	$(BIN)/paperfeed serve

demo: install
	$(BIN)/paperfeed demo --reset

# README's four screenshots into docs/screenshots/ (a throw-away demo site, headless Chromium).
screenshots: install-dev
	$(BIN)/python scripts/screenshots.py

# Style, then the layers contract (pyproject's [tool.importlinter]; README: Layout).
lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

types: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

# The same suite against PostgreSQL; each test creates a fresh database and drops it.
pytest-pg: install-dev
	@if $(BIN)/python scripts/pg_ready.py "$(PG_TEST_URL)"; then \
		PAPERFEED_TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/pytest $(PYTEST_ARGS); \
	else \
		echo "SKIPPED PostgreSQL run: no server answers at $(PG_TEST_URL) (set PG_TEST_URL)"; \
	fi

test: lint types pytest pytest-pg

# The fast tier: everything not marked slow, SQLite only, spread over CPU cores.
pytest-fast: install-dev
	$(BIN)/pytest -m "not slow" -n $(CHECK_WORKERS) --dist loadfile $(PYTEST_ARGS)

check: lint types pytest-fast

bench: install-dev
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_http.py

clean:
	rm -rf $(VENV) var test-output .pytest_cache .mypy_cache .ruff_cache
