# One-command developer loop. `make demo` and `make test` work on a fresh Debian machine.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
HOME_DIR ?= radio-data
DEMO_CACHE ?= music-cache
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench lint system system-dev venv install dev clean

system:  # what running a station needs
	@bash scripts/system-deps.sh

system-dev:  # and what the tests and benchmarks need too (MIDI rendering, browsers)
	@bash scripts/system-deps.sh --dev

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: system $(BIN)/python
	$(BIN)/pip install -q -e .

dev: system-dev $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'

demo: install
	$(BIN)/radio fetch-demo --cache $(DEMO_CACHE) --dest $(DEMO_CACHE)/demo
	$(BIN)/radio --home $(HOME_DIR) ingest $(DEMO_CACHE)/demo
	$(BIN)/radio --home $(HOME_DIR) embed
	@echo "serving the demo library: open http://localhost:8000/"
	$(BIN)/radio --home $(HOME_DIR) serve --port 8000

test: dev
	$(BIN)/python -m pytest -q

bench: dev
	$(BIN)/radio fetch-ci --cache $(DEMO_CACHE) --dest $(DEMO_CACHE)/ci
	$(BIN)/python bench/ingest.py $(DEMO_CACHE)/ci
	$(BIN)/python bench/analysis_speed.py --runs 3 --rss $(DEMO_CACHE)/ci/neverball-common/bgm/*.ogg
	$(BIN)/python bench/key_accuracy.py

lint: dev
	$(BIN)/ruff check radio ranking text server tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
