# The two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

export TTSQUEUE_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test
export TTSQUEUE_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test lint unit fuzz check-install test-ts openapi mutate chaos bench bench-queue \
	bench-tts bench-api bench-quick clean

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

# RUN_ARGS=--exit-when-done: stop once the sample book is a finished M4B.
run: $(VENV)/.run-installed
	$(BIN)/ttsqueue up --demo $(RUN_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench .ci tools
	$(BIN)/ruff format --check src tests bench .ci tools
	$(BIN)/mypy

# .ci/run (CI) runs exactly this, after starting PostgreSQL and Redis.
test: lint test-ts
	.ci/prepare-tests
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The TypeScript client (clients/typescript): its schema check, build and tests against a
# real server from this .venv. Without node, a local run skips it and CI fails.
TS_DIR := clients/typescript
test-ts: $(VENV)/.dev-installed
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  if [ "$$CI" = true ]; then echo "test-ts: node and npm are required" >&2; exit 1; fi; \
	  echo "test-ts: skipped (node and npm not found)"; exit 0; \
	fi; \
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error && \
	TTSQUEUE_PYTHON=$(CURDIR)/$(BIN)/python TTSQUEUE_BIN=$(CURDIR)/$(BIN)/ttsqueue npm test

# After an API change: the server's OpenAPI schema to $(TS_DIR)/openapi.json, then the
# client's generated types from it. Commit both.
openapi: $(VENV)/.dev-installed
	$(BIN)/python $(TS_DIR)/scripts/openapi.py
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error && npm run generate

# The wheel with no extras, in a fresh environment outside the tree, reads the sample
# book to a checked M4B; then each extra alone installs and works (CI runs this too).
check-install: $(VENV)/.dev-installed
	$(BIN)/python .ci/check_install.py

unit: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" $(PYTEST_ARGS)

# The fuzz suite with many more examples than `make test`, drawn afresh each run.
fuzz: $(VENV)/.dev-installed
	TTSQUEUE_FUZZ_PROFILE=fuzz $(BIN)/python -m pytest -q -p no:cacheprovider --timeout=0 tests/hostile/test_fuzz.py $(PYTEST_ARGS)

# Mutation testing, one module at a time with its own tests, at the lowest priority.
mutate: $(VENV)/.dev-installed
	$(BIN)/python tools/mutate.py $(MODULES)

# The full chaos run on every store (make test runs the short one); CHAOS_ARGS="--seed N"
# replays a run, "--store redis" picks one store. Writes bench/results/chaos.md.
chaos: $(VENV)/.dev-installed
	$(BIN)/python -m tests.chaos $(CHAOS_ARGS)

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
