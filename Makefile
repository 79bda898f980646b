# Targets named in README.md: run, test, check, fmt, bench.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# Test processes (pytest-xdist): each has its own databases, browser server and mail servers.
TEST_WORKERS ?= 2

.PHONY: run test check fmt bench venv install install-dev

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "opsdesk needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
		{ echo "could not create a virtualenv: on Debian/Ubuntu install the python3-venv package"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python

install: venv
	$(BIN)/pip install --quiet -e .

install-dev: venv
	$(BIN)/pip install --quiet -e '.[dev,ai]'

## Serve the web UI and API on http://$(HOST):$(PORT) with the embedded SQLite database and demo data.
run: install
	$(BIN)/opsdesk db upgrade
	$(BIN)/opsdesk demo load
	$(BIN)/opsdesk serve --host $(HOST) --port $(PORT)

## Run the whole test suite: SQLite always; PostgreSQL too when a server answers at $(PG_URL).
test: install-dev
	@# axe-core for the browser tests' accessibility checks, from the npm registry (once).
	@if command -v npm >/dev/null 2>&1 && [ ! -f tests/e2e/node_modules/axe-core/axe.min.js ]; then \
		npm ci --prefix tests/e2e --no-audit --no-fund --silent; \
	fi
	@if [ -z "$$OPSDESK_TEST_POSTGRES_URL" ] && $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=2).close()" 2>/dev/null; then \
		echo "PostgreSQL found at $(PG_URL): running the suite on SQLite and PostgreSQL"; \
		export OPSDESK_TEST_POSTGRES_URL='$(PG_URL)'; \
	fi; \
	$(BIN)/pytest -n $(TEST_WORKERS) --cov=opsdesk --cov-branch --cov-report=term:skip-covered -q $(PYTEST_ARGS)

## Static checks: lint, format, types, architecture contracts.
check: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

fmt: install-dev
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

## Benchmarks (prints the figures recorded in docs/benchmarks.md).
bench: install-dev
	$(BIN)/python bench/create_incidents.py
	$(BIN)/python bench/on_duty.py
	$(BIN)/python bench/coc_query.py
