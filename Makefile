# bel: two commands on a fresh machine with Python 3.11+:  make lab  /  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test bench lint notebooks binder-link clean

# (Re)install when the venv is missing or pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

test: $(STAMP)
	$(BIN)/ruff check bel tests bench tools notebooks
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Re-sync every notebook pair (the newer side wins) and re-execute it into its .ipynb.
notebooks: $(STAMP)
	$(BIN)/python -m tools.notebooks sync

lint: $(STAMP)
	$(BIN)/ruff check bel tests bench tools notebooks
	$(BIN)/ruff format --check bel tests bench tools

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
