# The README's two commands. Each builds .venv on first use and installs what it needs from PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= $(or $(SMFCAST_HOST),127.0.0.1)
PORT ?= $(or $(SMFCAST_PORT),8000)
WORKERS ?= $(or $(SMFCAST_WORKERS),2)

.PHONY: serve test run bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

serve: $(VENV)/.installed
	$(BIN)/smfcast serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(VENV)/.installed-dev
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q

run: $(VENV)/.installed
	$(BIN)/smfcast run

clean:
	rm -rf $(VENV) var
