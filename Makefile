# The two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

export TTSQUEUE_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
export TTSQUEUE_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test lint unit bench bench-queue bench-tts bench-api bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/ttsqueue up --demo

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

unit: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench all

bench-queue: $(VENV)/.dev-installed
	$(BIN)/python -m bench queue

bench-tts: $(VENV)/.dev-installed
	$(BIN)/python -m bench tts

bench-api: $(VENV)/.dev-installed
	$(BIN)/python -m bench api

bench-quick: $(VENV)/.dev-installed
	$(BIN)/python -m bench all --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
