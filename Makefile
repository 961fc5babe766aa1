# Two entry points for a fresh machine (see README): `make serve` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: build serve test lint

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

build: $(VENV)/.installed
	$(PY) -m piasite build

serve: $(VENV)/.installed
	$(PY) -m piasite serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: $(VENV)/.installed node_modules/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2
