# The two commands of the README: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test setup lint bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

## Start AX on the embedded default (SQLite + demo data): worker + dashboard on AX_PORT (8501).
run: setup
	$(BIN)/ax run

## Run the whole suite on SQLite and, when the local server answers, PostgreSQL.
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@if [ -z "$$AX_TEST_DATABASE_URL" ] && $(BIN)/python -c "import sys, psycopg; psycopg.connect('$(PG_TEST_URL)'.replace('+psycopg', ''), connect_timeout=3).close()" 2>/dev/null; then \
		echo "PostgreSQL answers: the suite runs on SQLite and PostgreSQL"; \
		export AX_TEST_DATABASE_URL=$(PG_TEST_URL); \
	fi; \
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/compute.py
	$(BIN)/python bench/pages.py

clean:
	rm -rf $(VENV) data artifacts .pytest_cache
