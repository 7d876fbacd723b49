# The README's two commands. Each builds .venv on first use and installs what it needs from PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= $(or $(SMFCAST_HOST),127.0.0.1)
PORT ?= $(or $(SMFCAST_PORT),8000)
WORKERS ?= $(or $(SMFCAST_WORKERS),2)

.PHONY: serve test run docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-docs: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/smfcast serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(VENV)/.installed-dev
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q

# The documentation site (MkDocs, Material theme) into var/site; strict: a broken link fails.
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

run: $(VENV)/.installed
	$(BIN)/smfcast run

clean:
	rm -rf $(VENV) var
