# Two commands on a fresh machine: `make demo` (set up + run the local end-to-end demo), `make test`
# (lint, format check, type check, then the whole suite: what CI runs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench check-java tools clean

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

# Test tools from Debian, installed here when missing (as root): chromium for the dashboard's browser test
# (Playwright drives it; no browser download) and shellcheck for emr_bootstrap.sh. Without them those
# two checks are skipped with a message saying how to install them.
TEST_TOOLS := chromium shellcheck
tools:
	@missing=""; for tool in $(TEST_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing$$missing for the tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing$$missing: install with sudo apt-get install -y$$missing (their tests are skipped without them)"; \
	  fi; \
	fi

demo: check-java $(STAMP)
	$(BIN)/dpgw demo

test: check-java tools $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

bench: check-java $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .dpgw demo-data bench/out
