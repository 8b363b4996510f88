# bel: two commands on a fresh machine with Python 3.11+:  make lab  /  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab explorer explorer-grid test test-thorough book bench lint notebooks binder-link clean

# JupyterLab refuses to start as root (a container, CI) unless given --allow-root: add it only for
# root. Voila's own server starts for root as it is. LAB_ARGS / EXPLORER_ARGS pass extra options.
ALLOW_ROOT    := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS      ?=
EXPLORER_PORT ?= 8866
EXPLORER_ARGS ?=
# JAX keeps what it compiles on disk for the kernels these servers start: the explorer's panel
# compiles once per machine, and builds in a few seconds in every later kernel (Voila starts one
# per visit). Only these two targets set it; delete the folder to start afresh.
JAX_CACHE     := JAX_COMPILATION_CACHE_DIR=$(HOME)/.cache/bel/jax JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0

# (Re)install when the venv is missing or pyproject.toml changed since the last install: bel and
# its dev and docs extras, with uv from pip's package sources, or pip if uv fails (tools/install.py).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m tools.install
	touch $(STAMP)

# binder/jupyter_server_config.json hides the paired notebooks/NN_name.py from the file browser
# (one file per notebook: the .ipynb); Binder gets the same file from binder/postBuild.
LAB_CONFIG    := binder/jupyter_server_config.json
lab: $(STAMP)
	$(JAX_CACHE) $(BIN)/jupyter lab $(ALLOW_ROOT) --config=$(LAB_CONFIG) $(LAB_ARGS) notebooks/

# The diversity explorer as a web app: Voila runs apps/explorer.ipynb (a title, three things to try,
# the panel) and shows its outputs, no code. A kernel idle for EXPLORER_CULL seconds with no page
# connected (the page was closed) is shut down; the jupytext Lab extension stays out of the page; the
# page template is apps/share/voila/templates/bel (Voila's "lab" without style sheets from a CDN).
# apps/voila.py keeps one kernel pre-heated: the app has run in it before a page asks for it.
EXPLORER_CULL ?= 120
EXPLORER_CULL_INTERVAL ?= 30
VOILA_ARGS := --MappingKernelManager.cull_idle_timeout=$(EXPLORER_CULL) \
              --MappingKernelManager.cull_interval=$(EXPLORER_CULL_INTERVAL) \
              --MappingKernelManager.cull_connected=False \
              --VoilaConfiguration.extension_denylist="['jupyterlab-jupytext']" --template=bel \
              --Voila.config_file_paths="['$(CURDIR)/apps']"
explorer: $(STAMP)
	@echo "bel's diversity explorer: http://localhost:$(EXPLORER_PORT)/ (ready in about 10 s; Ctrl-C stops it)"
	$(JAX_CACHE) JUPYTER_PATH=$(CURDIR)/apps/share$${JUPYTER_PATH:+:$$JUPYTER_PATH} \
	  $(BIN)/voila --no-browser --port=$(EXPLORER_PORT) $(VOILA_ARGS) $(EXPLORER_ARGS) apps/explorer.ipynb

# Two pytest-xdist workers (tests/conftest.py keeps each expensive module fixture on one worker);
# TEST_WORKERS=0 runs the suite in one process. The ten slowest tests are listed at the end.
TEST_WORKERS ?= 2
test: $(STAMP) book
	$(BIN)/ruff check bel tests bench tools notebooks docs apps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=10

# The same with ten times as many hypothesis examples per property test (tests/conftest.py).
test-thorough: $(STAMP) book
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The book: every notebooks/*.ipynb as saved (never executed) and the API from bel's docstrings, as
# a static site in docs/_build/html (docs/conf.py). -E reads everything afresh (autodoc does not
# track bel's sources); -W --keep-going -n: any warning, broken reference or broken internal link
# fails the build, after listing them all.
BOOK := docs/_build/html
book: $(STAMP)
	$(BIN)/python -m sphinx -E -W --keep-going -n -q -b html docs $(BOOK)
	@echo "book: open $(BOOK)/index.html"

# The explorer replayed in the book (docs/_static/explorer-grid.json, committed): bel.explorer.model
# run over members 1-8 x init x r/s std x task, at init and after training (tools/explorer_grid.py,
# a few minutes). Run it again when bel.explorer.model changes; tests/test_book.py checks that
# grid points still equal the live explorer's numbers.
explorer-grid: $(STAMP)
	$(BIN)/python -m tools.explorer_grid

bench: $(STAMP)
	$(BIN)/python -m bench

# Re-sync every notebook pair (the newer side wins) and re-execute it into its .ipynb.
notebooks: $(STAMP)
	$(BIN)/python -m tools.notebooks sync

lint: $(STAMP)
	$(BIN)/ruff check bel tests bench tools notebooks docs apps
	$(BIN)/ruff format --check bel tests bench tools docs apps

# Binder links for this repository. README.md keeps OWNER/REPO in its links; this prints the real
# ones, from `git remote get-url origin`, for every notebooks/*.ipynb.
BINDER := https://mybinder.org/v2/gh
binder-link:
	@url=$$(git remote get-url origin 2>/dev/null || true); \
	slug=$$(printf '%s\n' "$$url" \
	  | sed -nE 's|^([a-z+]+://)?([^@/]+@)?github\.com[:/]([^/]+/[^/]+)/?$$|\3|p' \
	  | sed -E 's|\.git$$||'); \
	if [ -z "$$slug" ]; then \
	  echo "binder-link: no GitHub remote ('git remote get-url origin' gives '$${url:-nothing}')." >&2; \
	  echo "Binder needs a public GitHub repository; links follow" >&2; \
	  echo "  $(BINDER)/OWNER/REPO/HEAD?labpath=notebooks/NAME.ipynb" >&2; \
	  exit 1; \
	fi; \
	echo "Binder links for $$slug (README.md: replace OWNER/REPO with $$slug):"; \
	found=; for nb in notebooks/*.ipynb; do \
	  [ -e "$$nb" ] || continue; found=1; echo "  $(BINDER)/$$slug/HEAD?labpath=$$nb"; \
	done; \
	[ -n "$$found" ] || echo "  (no notebooks/*.ipynb yet) $(BINDER)/$$slug/HEAD"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
