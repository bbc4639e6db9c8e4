# Two commands: `make demo` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The interpreter .venv is made from: an optimised build when the machine has one (scripts/pick-python.sh).
PYTHON ?= $(shell scripts/pick-python.sh)

.PHONY: demo test lint format stop worker bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m config.demo

test: lint
	scripts/ensure-system-packages.sh
	$(VENV)/bin/pytest

# Style, types and the import layers (pyproject.toml: [tool.ruff], [tool.mypy], [tool.importlinter]).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# A GPU worker on this machine (see the README for workers on other hosts).
worker: $(STAMP)
	$(VENV)/bin/celery -A config worker --queues gpu --concurrency 1 --pool prefork --loglevel INFO

stop:
	$(PY) -m config.embedded stop

clean: stop
	rm -rf var
