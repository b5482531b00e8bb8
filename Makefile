# The two commands: `make run` starts the whole server with demo data; `make test` runs every check.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export MSSANTE_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test lint types imports pytest bench bootstrap-run bootstrap-test clean

run: bootstrap-run
	$(BIN)/mssante init --demo
	exec $(BIN)/mssante serve

test: bootstrap-test lint types imports pytest

bootstrap-run:
	@bash scripts/bootstrap.sh run

bootstrap-test:
	@bash scripts/bootstrap.sh test

lint:
	$(BIN)/ruff check .

types:
	$(BIN)/mypy .

imports:
	$(BIN)/lint-imports

# Tests run on SQLite and on a real PostgreSQL server that the suite starts itself (tests/pg.py).
pytest:
	$(BIN)/pytest -q $(PYTEST_ARGS)

bench: bootstrap-test
	$(BIN)/python bench/smtp_ingest.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache test-artifacts
