# TaskFlow: `make run` serves it on http://127.0.0.1:8000 with demo data, `make test` runs every test.
# Both set up what they need first: the MariaDB/MySQL client headers, docker-compose and npm for the
# tests (scripts/ensure-system-packages), a Python 3.13 virtualenv in .venv and the pinned
# requirements; `make test` also the npm packages its tests use (package.json, in node_modules).

PYTHON ?= $(shell command -v python3.13 2>/dev/null)
VENV := .venv
# The npm packages the tests use (package.json, pinned in package-lock.json).
NODE_TOOLS := node_modules/.installed
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# loadgroup: tests marked with one xdist_group (the browser tests) share a worker.
PYTEST_ARGS ?= -n auto --dist loadgroup

.PHONY: run test setup migrate lint format clean

run: setup migrate
	$(BIN)/python manage.py seed_demo
	@echo "TaskFlow on http://$(HOST):$(PORT)/ (API /api/, docs /api/docs/, admin /admin/)"
	$(BIN)/python -m taskflow.serve --server daphne --host $(HOST) --port $(PORT) --workers 1

test: setup $(NODE_TOOLS)
	@./scripts/ensure-system-packages
	$(BIN)/pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed

migrate: setup
	$(BIN)/python manage.py migrate --no-input

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@./scripts/ensure-system-packages
	@if [ -z "$(PYTHON)" ]; then \
		echo "Python 3.13 is needed: install python3.13 (with its venv module), or run make PYTHON=/path/to/python3.13." >&2; \
		exit 1; \
	fi
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV) || { \
		echo "Could not create a virtualenv: install the python3.13-venv package." >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(NODE_TOOLS): package.json package-lock.json
	@./scripts/ensure-system-packages
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

clean:
	rm -rf $(VENV) node_modules db.sqlite3 db.sqlite3-shm db.sqlite3-wal staticfiles
