# The two commands of the README:
#   make book   build a virtual environment, execute the book (smoke profile, offline), write _build/html
#   make test   everything CI runs: unit tests, every chapter under nbval (each chapter executes once),
#               the book built with -W from the outputs of that nbval run
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
export GANCOURSE_PROFILE ?= smoke
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONUNBUFFERED := 1
# (MPLBACKEND is left alone: the kernels need the inline backend to show figures.)
CHAPTERS := $(shell grep -o 'book/[0-9][0-9]_[a-z0-9_]*' _toc.yml | sort -u)

.PHONY: book test unit notebooks book-check sync bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --keep-going
	@echo "open _build/html/index.html"

test: unit notebooks book-check

unit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests

# Each chapter converted to a notebook and executed cell by cell (errors fail; outputs are not compared).
# tools/nbval_save.py keeps every notebook that passed, with its outputs, in $(EXECUTED) for book-check.
EXECUTED := _build/executed
JUPYTER_CACHE := _build/.jupyter_cache
notebooks: $(STAMP)
	rm -rf _build/nbtest $(EXECUTED) $(JUPYTER_CACHE) && mkdir -p _build/nbtest
	for ch in $(CHAPTERS); do $(BIN)/jupytext --to ipynb --output _build/nbtest/$$(basename $$ch).ipynb $$ch.md || exit 1; done
	cd _build/nbtest && PYTHONPATH=$(CURDIR)/tools$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python -m pytest \
		-p no:cacheprovider -p nbval_save --nbval-save-dir=$(CURDIR)/$(EXECUTED) --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 --durations=5 -q *.ipynb

# The book built from scratch with warnings as errors, from the chapters executed by `notebooks`
# (served through myst-nb's jupyter-cache; the build fails if it had to execute a chapter itself).
book-check: notebooks
	rm -rf _build/html _build/.doctrees _build/jupyter_execute $(JUPYTER_CACHE)
	$(BIN)/python tools/book_cache.py fill --config _config.yml --config-out _build/book-check.yml \
		--cache $(JUPYTER_CACHE) --executed $(EXECUTED) $(addsuffix .md,$(CHAPTERS))
	$(BIN)/jupyter-book build . -W --keep-going --config _build/book-check.yml
	$(BIN)/python tools/book_cache.py check --cache $(JUPYTER_CACHE)
	$(BIN)/python tools/check_html.py _build/html $(CHAPTERS)

# Rewrite the Colab notebooks (book/*.ipynb) from the chapters after editing one (tools/colab.py:
# citations as text, solutions in collapsed <details>).
sync: $(STAMP)
	$(BIN)/python tools/colab.py

bench: $(STAMP)
	$(BIN)/python -m gancourse bench dcgan
	$(BIN)/python -m gancourse bench pix2pix

clean:
	rm -rf _build
