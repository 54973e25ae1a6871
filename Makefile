# Two commands for a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: run test lint layers typecheck pytest install install-test postgres-binaries browser format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Start Tallybook with the demo organisation (SQLite + local files in ./data).
run: install
	$(BIN)/tallybook serve --demo

## Lint, format check, layering, type check and the whole test suite (SQLite and PostgreSQL).
test: install-test postgres-binaries browser lint layers typecheck pytest

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The import contracts in pyproject.toml: the layering of docs/architecture.md.
layers: install-test
	$(BIN)/lint-imports --no-cache

typecheck: install-test
	$(BIN)/mypy

pytest: install-test postgres-binaries browser
	$(BIN)/pytest $(PYTEST_ARGS)

format: install-test
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# The tests start their own throwaway PostgreSQL server from the installed binaries.
postgres-binaries:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
	  || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql)

# The browser tests drive Debian's Chromium through Playwright (which downloads no browser).
browser:
	@command -v chromium >/dev/null 2>&1 \
	  || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
