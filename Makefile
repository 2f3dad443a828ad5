# Two commands for a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
# Processes running test files side by side (pytest-xdist; each test owns its data). 0 runs them in this one.
# Three on a two-core machine: much of a test's time is spent waiting on servers and browsers.
TEST_WORKERS ?= 3

.PHONY: run test install build widget console catalogs messages migrate demo serve services cluster durations unit integration e2e bench lint clean

run: install build migrate demo serve

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

build: widget console catalogs

# The staff pages' message catalogs (app/locale/<locale>/LC_MESSAGES/messages.po → .mo, app/i18n.py).
MESSAGE_CATALOGS := $(patsubst %.po,%.mo,$(wildcard app/locale/*/LC_MESSAGES/messages.po))
catalogs: $(MESSAGE_CATALOGS)
app/locale/%/LC_MESSAGES/messages.mo: app/locale/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(VENV)/bin/pybabel -q compile -D messages -d app/locale -l $*

# After marking or changing text in templates or app/web: re-extract the ids into the template
# (messages.pot) and every language's .po; then translate what is new (tests/unit/test_catalogs.py
# fails on an id without a translation, and on one no page uses any more).
MESSAGE_KEYWORDS := -k N_ -k ServiceError:2 -k _refuse:2 -k error:2 -k endpoint:2 -k refuse:2 -k ScorecardError:2
messages: install
	$(VENV)/bin/pybabel -q extract -F babel.cfg $(MESSAGE_KEYWORDS) --no-location --sort-output --project=Switchboard --header-comment="# The staff pages of Switchboard." -o app/locale/messages.pot .
	$(VENV)/bin/pybabel -q update -i app/locale/messages.pot -d app/locale -D messages --no-wrap --no-fuzzy-matching --ignore-obsolete

widget: widget/dist/widget.js
widget/dist/widget.js: widget/package.json widget/package-lock.json widget/build.mjs $(wildcard widget/src/*.js)
	cd widget && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

console: agent_ui/dist/console.js
agent_ui/dist/console.js: agent_ui/package.json agent_ui/package-lock.json agent_ui/build.mjs $(wildcard agent_ui/src/*) $(wildcard agent_ui/src/pages/*) $(wildcard agent_ui/locales/*/*.json)
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

# Remeasure how long each test file takes (tests/durations.json: the suite starts the longest first).
durations: install build services
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --junitxml=.durations.xml $(PYTEST_ARGS)
	$(PY) tests/support/durations.py .durations.xml > tests/durations.json

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
