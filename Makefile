# Two commands on a fresh machine: `make demo` (set up + run the local end-to-end demo), `make test`
# (lint, type check, then the whole suite: what CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench check-java browser clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] < (3, 13), "dp-gateway needs Python 3.11 or 3.12 (Tumult 0.21 and PipelineDP 0.3.1); found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[all,dev]'
	@touch $(STAMP)

check-java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Spark needs a Java runtime (11 or 17) and none was found."; \
	  echo "Install one, e.g.:  sudo apt-get install -y openjdk-17-jre-headless   (Debian/Ubuntu)"; \
	  echo "                    brew install openjdk@17                             (macOS)"; \
	  exit 1; }

# The dashboard's browser test drives Debian's chromium (no browser download); installed here when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium for the dashboard's browser test (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "The dashboard's browser test needs chromium (sudo apt-get install -y chromium); it is skipped without it."; \
	  fi; }

demo: check-java $(STAMP)
	$(BIN)/dpgw demo

test: check-java browser $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: check-java $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .dpgw demo-data bench/out
