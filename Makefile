# Paperboy: `make run` starts the whole service, `make test` runs the whole suite (`make test-fast` the quick part).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test test-fast lint format install bootstrap clean-var

$(BIN)/activate:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@echo "creating $(VENV) and installing Paperboy's dependencies (about a minute on a fresh machine)..."
	$(BIN)/pip install --progress-bar on --upgrade pip wheel

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --progress-bar on -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

## Migrate, create the admin, load papers (live arXiv, else the bundled sample), train, then start
## web + worker + beat (+ the embedded Redis) under honcho.
run: install bootstrap
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho start

bootstrap: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

## The suite without the tests marked slow (real Celery workers, SIGKILL, Redis restarts, browsers, evaluations
## and benchmarks, subprocesses, whole simulated weeks), one process per core: the loop while coding (docs/testing.md).
test-fast: install
	$(BIN)/pytest -m "not slow" -n auto $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean-var:
	rm -rf var/db.sqlite3* var/outbox var/redis
