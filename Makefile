# Two commands for a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
# Processes running test files side by side (pytest-xdist; each test owns its data). 0 runs them in this one.
TEST_WORKERS ?= 2

.PHONY: run test install build widget console migrate demo serve services cluster unit integration e2e bench lint clean

run: install build migrate demo serve

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

build: widget console

widget: widget/dist/widget.js
widget/dist/widget.js: widget/package.json widget/package-lock.json widget/build.mjs $(wildcard widget/src/*.js)
	cd widget && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

console: agent_ui/dist/console.js
agent_ui/dist/console.js: agent_ui/package.json agent_ui/package-lock.json agent_ui/build.mjs $(wildcard agent_ui/src/*) $(wildcard agent_ui/src/pages/*)
	cd agent_ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

migrate: install
	$(PY) -m app migrate

demo: install
	$(PY) -m app demo

serve: install
	$(PY) -m app serve --port $(PORT)

services:
	bash .ci/services

# PostgreSQL + Redis + WORKERS workers behind nginx on 127.0.0.1:CLUSTER_PORT (deploy/cluster.py); Ctrl+C stops it.
WORKERS ?= 3
CLUSTER_PORT ?= 8080
cluster: install build services
	$(PY) deploy/cluster.py --workers $(WORKERS) --port $(CLUSTER_PORT)

test: install build services
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: install build services
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

e2e: install build services
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

bench: install build services
	$(PY) bench/message_roundtrip.py

clean:
	rm -rf widget/dist agent_ui/dist widget/node_modules agent_ui/node_modules $(VENV)
