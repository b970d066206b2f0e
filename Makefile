# azlib — the user's entry point. `make reproduce` (PROFILE=cpu by default), `make test`.
SHELL := /bin/bash
PROFILE ?= cpu
DATA_ROOT ?=
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.azlib-installed
RESULTS ?= results/$(PROFILE)
NOTEBOOKS_DIR ?= notebooks
NOTEBOOK_SOURCES := $(sort $(wildcard $(NOTEBOOKS_DIR)/[0-9][0-9]_*.py))
EXECUTED := $(patsubst $(NOTEBOOKS_DIR)/%.py,$(RESULTS)/notebooks/%.ipynb,$(NOTEBOOK_SOURCES))
AZLIB_SOURCES := $(shell find azlib -name '*.py' -not -path '*/__pycache__/*')
BOOK_SOURCES := $(wildcard book/*.md book/*.yml book/*.svg)
BOOK_STAMP := book/_build/.built-$(PROFILE)
# One intra-op thread by default: the cpu profile was calibrated and timed so, results are the
# same from machine to machine, and two threads competing with another process made a training
# step 80x slower. Override with OMP_NUM_THREADS=2 make ... on an idle machine.
export OMP_NUM_THREADS ?= 1

.PHONY: reproduce notebooks test book lab clean venv

venv: $(STAMP)

# The environment: created when missing, reinstalled when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

reproduce: $(BOOK_STAMP)

notebooks: $(EXECUTED)

# One executed notebook per source. Re-run only when its source, the profile or azlib changed;
# azlib.notebook writes NAME.partial.ipynb and renames it only on success, so a notebook that
# raises leaves nothing up to date and make stops.
$(RESULTS)/notebooks/%.ipynb: $(NOTEBOOKS_DIR)/%.py params/$(PROFILE).yaml $(AZLIB_SOURCES) | $(STAMP)
	$(PY) -m azlib.notebook $< $@ --profile $(PROFILE) --out-dir $(RESULTS) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)")

$(BOOK_STAMP): $(EXECUTED) $(BOOK_SOURCES) | $(STAMP)
	$(PY) -m azlib.book --profile $(PROFILE)
	rm -f book/_build/.built-* && touch $@

# Rebuild the book from the executed notebooks already under results/$(PROFILE), running nothing.
book: | $(STAMP)
	$(PY) -m azlib.book --profile $(PROFILE)

test: $(STAMP)
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf book/_build book/_stage results/smoke .pytest_cache
