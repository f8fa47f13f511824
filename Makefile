# The two commands of the README:
#   make book   build a virtual environment, execute the book (smoke profile, offline), write _build/html
#   make test   everything CI runs: unit tests, every chapter under nbval, the book build with -W
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
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
notebooks: $(STAMP)
	rm -rf _build/nbtest && mkdir -p _build/nbtest
	for ch in $(CHAPTERS); do $(BIN)/jupytext --to ipynb --output _build/nbtest/$$(basename $$ch).ipynb $$ch.md || exit 1; done
	cd _build/nbtest && ../../$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 --durations=5 -q *.ipynb

# The book built from scratch with warnings as errors (this executes every chapter again).
book-check: $(STAMP)
	rm -rf _build/html _build/.doctrees _build/jupyter_execute
	$(BIN)/jupyter-book build . -W --keep-going

# Refresh the Colab pairs (book/*.ipynb) after editing a chapter.
sync: $(STAMP)
	for ch in $(CHAPTERS); do $(BIN)/jupytext --sync $$ch.md; done

bench: $(STAMP)
	$(BIN)/python -m gancourse bench dcgan
	$(BIN)/python -m gancourse bench pix2pix

clean:
	rm -rf _build
