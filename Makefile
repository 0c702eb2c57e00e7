# impactlens: the README's commands. Each target creates .venv if missing and installs into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest
SIZE   ?= small
DEMO_DIR ?= demo-workspace

.DEFAULT_GOAL := help
.PHONY: help demo test test-fast test-spark test-browser bench lint fmt clean

help:
	@echo "make demo     build the demo company, import it, review it (SIZE=small|large)"
	@echo "make test     the whole test suite (fast, Spark engine, browser)"
	@echo "make bench    benchmarks (results: docs/benchmarks.md)"
	@echo "make lint     ruff + mypy"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,spark,clickhouse,bench,fuzz]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/impactlens demo $(DEMO_DIR) --size $(SIZE)

# Fast suite in parallel, then the Spark engine suite (one JVM), then the browser tests.
# pytest exits 5 when a marker selects nothing; that is not a failure here.
test: $(STAMP)
	$(PYTEST) -q -m "not spark and not browser" -n 2 -p no:cacheprovider
	$(PYTEST) -q -m spark -p no:cacheprovider || [ $$? -eq 5 ]
	$(PYTEST) -q -m browser -p no:cacheprovider || [ $$? -eq 5 ]

test-fast: $(STAMP)
	$(PYTEST) -q -m "not spark and not browser and not slow" -n 2

test-spark: $(STAMP)
	$(PYTEST) -q -m spark

test-browser: $(STAMP)
	$(PYTEST) -q -m browser

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
