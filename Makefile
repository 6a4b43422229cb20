# circlearn: two commands do all set-up on a fresh machine.
#   make test   create .venv if needed, install (CPU torch pin first), run every test and notebook
#   make demo   same install, then the main job: the paper's fig-embeddings experiment, quick scale
#   make docs   same install, then the book (docs/) as static HTML in docs/_build/html
#   make docs-check  the book built, then every page of it opened in Chromium
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN ?= torch==2.13.0
CONSTRAINTS := .ci/constraints.txt
STAMP := $(VENV)/.circlearn-installed
export MPLBACKEND ?= Agg

.PHONY: install test unit notebooks docs docs-check demo lab bench lint clean-notebooks \
	check-notebooks-clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Install the CPU torch pin only when no torch is present (a CUDA build a user installed stays).
$(STAMP): $(PY) pyproject.toml $(CONSTRAINTS)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[test,ts-data,real-data,deploy,docs]"
	@touch $(STAMP)

install: $(STAMP)

# JupyterLab and papermill only for people who open the notebooks (not needed by the tests).
$(VENV)/.circlearn-lab: $(STAMP)
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[test,ts-data,real-data,deploy,docs,notebooks]"
	@touch $@

# tests/test_book.py checks the built book: `make docs` runs it on the site it has just built
# (run alone, as in `pytest tests`, it builds the book into a temporary folder).
unit: $(STAMP)
	$(PY) -m pytest tests --doctest-modules circlearn -q -p no:cacheprovider --durations=10 \
		--ignore=tests/test_book.py

notebooks: $(STAMP)
	$(PY) -m pytest notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=120 \
		-q -p no:cacheprovider --durations=10

test: unit notebooks docs check-notebooks-clean

# The book: Sphinx + myst-nb over the notebooks' stored outputs (never executed), the CLI and
# API references; warnings are errors, nothing is fetched from the network. Built from the
# repository root (docs/conf.py says why) into docs/_build/html: open docs/_build/html/index.html.
DOCS_OUT := docs/_build/html
docs: $(STAMP)
	rm -rf docs/_build
	$(PY) -m sphinx -W --keep-going -q -b html -c docs . $(DOCS_OUT)
	CIRCLEARN_BOOK=$(DOCS_OUT) $(PY) -m pytest tests/test_book.py -q -p no:cacheprovider

# The browser check (docs/check_site.py): every page of the built book in Debian's Chromium
# over a loopback server; fails on requests to other hosts, console errors, HTTP errors, empty
# images, untypeset math and broken links. Without Chromium it says so and passes, unless CI=true.
docs-check: docs
	$(PY) docs/check_site.py $(DOCS_OUT)

# The cleaner's flags mirror [tool.nbstripout] in pyproject.toml (nbstripout does not read it;
# tests/test_notebook_hygiene.py checks the two agree).
NBSTRIPOUT_FLAGS := --keep-output --keep-count \
	--extra-keys "metadata.papermill cell.metadata.papermill cell.metadata.execution metadata.widgets"

clean-notebooks: $(STAMP)
	$(VENV)/bin/nbstripout $(NBSTRIPOUT_FLAGS) notebooks/*.ipynb

# CI: fails when a committed notebook was not cleaned (nbdev-ci pattern).
check-notebooks-clean: clean-notebooks
	git diff --exit-code -- notebooks/

demo: $(STAMP)
	$(VENV)/bin/circlearn experiment fig-embeddings --scale quick --seeds 3 --out runs/demo

lab: $(VENV)/.circlearn-lab
	$(VENV)/bin/jupyter lab notebooks

bench: $(STAMP)
	$(VENV)/bin/circlearn bench --out benchmarks/results

lint: $(STAMP)
	$(PIP) install -q ruff
	$(VENV)/bin/ruff check circlearn tests
