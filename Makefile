# m10py: everything runs from a project-local virtualenv that `make` creates on first use.
#
#   make demo    the work queue end to end (embedded PostgreSQL unless DATABASE_URL is set)
#   make test    pytest; DATABASE_URL / REDIS_URL when set, else embedded servers under ./.m10
#   make lint    ruff check . and mypy --strict m10py
#   make bench   python benchmarks/queue.py
#   make clean   build outputs and caches;  make distclean  also .venv and ./.m10
#
# Variables: PYTHON (interpreter that creates the venv, default python3), VENV (default .venv),
# PYTEST_ARGS, DEMO_ARGS, BENCH_ARGS, PIP_ARGS.

PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=
PIP_ARGS ?=

BIN := $(VENV)/bin
# Re-install when pyproject.toml changes (new dependencies, extras, entry points).
STAMP := $(VENV)/.m10-installed

.DEFAULT_GOAL := help
.PHONY: help install demo test lint bench clean distclean

help:
	@sed -n '3,7p' Makefile | sed 's/^# \{0,1\}//'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "m10py needs Python >= 3.11; run: make PYTHON=/path/to/python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || \
		{ echo "'$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt install python3-venv)" >&2; \
		  rm -rf $(VENV); exit 1; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check $(PIP_ARGS) -e '.[dev]'
	@touch $@

install: $(STAMP)

# The embedded default: M10_SERVICES=embedded unless the caller chose a mode; with DATABASE_URL set
# the demo uses that database instead.
demo: $(STAMP)
	M10_SERVICES="$${M10_SERVICES:-embedded}" $(BIN)/m10 demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	@status=0; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "$(BIN)/mypy --strict m10py"; $(BIN)/mypy --strict m10py || status=1; \
	exit $$status

# -P: keep benchmarks/ off sys.path, or benchmarks/queue.py would shadow the stdlib `queue` module
# that psycopg_pool imports.
bench: $(STAMP)
	$(BIN)/python -P benchmarks/queue.py $(BENCH_ARGS)

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache *.egg-info
	find . -path ./$(VENV) -prune -o -path ./.m10 -prune -o -name __pycache__ -type d -print \
		| xargs rm -rf

distclean: clean
	rm -rf $(VENV) .m10
