# netc: `make demo` runs the compiler over the zoo, `make test` runs every check CI runs.
# Both set up .venv first (scripts/setup.sh; fast when nothing changed).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
LINT_PATHS := netc tests bench
# pytest-xdist on 2 cores: with ~900 tests (many spawn the CLI) `-n 2` beat a serial run
# (40-42 s vs 54-81 s, measured back to back); with a handful of tests it would not.
# PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

export OMP_NUM_THREADS := 1

.PHONY: help setup demo test lint format-check typecheck unit bench clean distclean

help:
	@echo "make demo       set up, then check and convert the zoo (scripts/demo.sh; outputs in out/)"
	@echo "make test       set up, then ruff, ruff format --check, mypy and pytest (what CI runs)"
	@echo "make bench      time 'netc check' on the largest zoo file (bench/bench_check.py)"
	@echo "make clean      remove outputs and caches; 'make distclean' also removes .venv"

setup:
	@bash scripts/setup.sh

demo: setup
	@bash scripts/demo.sh

# -k: run every check even when an earlier one fails; make still exits non-zero.
test: setup
	@$(MAKE) --no-print-directory -k lint format-check typecheck unit

lint:
	@echo "== ruff check"
	$(BIN)/ruff check $(LINT_PATHS)

format-check:
	@echo "== ruff format --check"
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck:
	@echo "== mypy"
	$(BIN)/mypy

unit:
	@echo "== pytest"
	$(BIN)/pytest $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS)) $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/bench_check.py

clean:
	rm -rf out dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
