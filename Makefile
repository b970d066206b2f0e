# azlib — the user's entry point. PROFILE=cpu by default.
#   make reproduce   recompute every run of the profile from nothing into build/<profile>/, compare
#                    with the published results (reproduction report), build that book
#   make book        build the published book from results/<profile>/ (runs nothing)
#   make publish     make build/<profile>/ the published results/<profile>/ (the only target that
#                    writes there), then build the book
#   make test        unit tests, every notebook under the smoke profile, the browser test
#   make lab         JupyterLab on notebooks/ (chapters open as notebooks, write to build/<profile>/lab)
SHELL := /bin/bash
PROFILE ?= cpu
DATA_ROOT ?=
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.azlib-installed
BUILD ?= build/$(PROFILE)
NOTEBOOKS_DIR ?= notebooks
NOTEBOOK_SOURCES := $(sort $(wildcard $(NOTEBOOKS_DIR)/[0-9][0-9]_*.py))
EXECUTED := $(patsubst $(NOTEBOOKS_DIR)/%.py,$(BUILD)/notebooks/%.ipynb,$(NOTEBOOK_SOURCES))
AZLIB_SOURCES := $(shell find azlib -name '*.py' -not -path '*/__pycache__/*')
# One intra-op thread by default: the cpu profile was calibrated and timed so, results are the
# same from machine to machine, and two threads competing with another process made a training
# step 80x slower. Override with OMP_NUM_THREADS=2 make ... on an idle machine.
export OMP_NUM_THREADS ?= 1

.PHONY: reproduce notebooks test book publish lab clean venv

venv: $(STAMP)

# The environment: created when missing, reinstalled when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

reproduce: $(EXECUTED) | $(STAMP)
	$(PY) -m azlib.reproduction --profile $(PROFILE) --reproduced $(BUILD) || true
	$(PY) -m azlib.book --profile $(PROFILE) --results $(BUILD) --output $(BUILD)/book
	@$(PY) -c "import json; print(json.load(open('$(BUILD)/reproduction.json'))['summary'])"

notebooks: $(EXECUTED)

# One executed notebook per source, under build/ (which git never writes, so file times say what
# is up to date): re-run when its source, the profile or azlib changed. A notebook runs into a
# temporary file renamed only on success, so one that raises stops make and never looks done.
$(BUILD)/notebooks/%.ipynb: $(NOTEBOOKS_DIR)/%.py params/$(PROFILE).yaml $(AZLIB_SOURCES) | $(STAMP)
	$(PY) -m azlib.notebook $< $@ --profile $(PROFILE) --out-dir $(BUILD) $(if $(DATA_ROOT),--data-root "$(DATA_ROOT)")

# The published book, from the committed results: seconds, nothing runs.
book: | $(STAMP)
	$(PY) -m azlib.book --profile $(PROFILE)

publish: | $(STAMP)
	$(PY) -m azlib.reproduction --profile $(PROFILE) --reproduced $(BUILD) --publish
	$(PY) -m azlib.book --profile $(PROFILE)

test: $(STAMP)
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest

# JupyterLab on notebooks/: a double-click opens a .py chapter as a notebook (jupytext's viewer,
# jupyter/overrides.json), and a chapter run there writes to build/<profile>/lab, never results/.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings
lab: $(STAMP)
	mkdir -p $(LAB_SETTINGS)
	cp jupyter/overrides.json $(LAB_SETTINGS)/overrides.json
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf book/_build book/_stage build/smoke .pytest_cache
