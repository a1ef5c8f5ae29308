# Two commands for a new user: `make demo` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache
export VTK_DEFAULT_OPENGL_WINDOW ?= vtkEGLRenderWindow
export UV_LINK_MODE ?= copy
PYTEST_ARGS ?=

.PHONY: demo test system venv lint typecheck bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet -p $(BIN)/python -e '.[dev,bench]'
	@touch $@

venv: $(VENV)/.installed

system:
	@bash deploy/system-deps.sh

# Mosquitto where it can be installed (root + apt-get); otherwise the demo runs on the embedded broker
demo: venv
	@bash deploy/system-deps.sh --demo || true
	$(BIN)/smartlib demo

test: venv system
	$(BIN)/ruff check --quiet .
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python bench/movement.py
	$(BIN)/python bench/evacuation.py
	$(BIN)/python bench/library_day.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/placement.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/import_ifc.py

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache .mypy_cache .ruff_cache
