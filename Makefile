# meshforge: `make run` starts the demo, `make test` runs lint, types and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint types pytest bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	@bash scripts/system-deps.sh

run: $(STAMP) system-deps
	$(BIN)/python -m standin.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy meshforge standin

pytest: $(STAMP) system-deps
	$(BIN)/pytest -q -p no:cacheprovider

test: lint types pytest

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

clean:
	rm -rf var .mypy_cache .ruff_cache
