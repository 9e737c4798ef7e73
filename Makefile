# The README's two commands: `make run` and `make test`. Both create .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODEL ?=
ARGS ?=

.PHONY: run test lint bench-serving clean deps-system image

# `make run` installs the plots extra too: the README's `ebb load ... --plot` and `ebb sim --out`
# draw with matplotlib.
$(BIN)/ebb: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[plots]'
	touch $@

$(VENV)/.test-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

RUN_FLAGS := --min-workers 1 --max-workers 4
run: $(BIN)/ebb
	@echo "In another terminal: . .venv/bin/activate   (puts ebb on PATH; or call .venv/bin/ebb)"
	$(BIN)/ebb serve $(MODEL) $(RUN_FLAGS) $(ARGS)

# System tools the suite runs for real: Prometheus and promtool, wrk, Chromium (for the dashboard
# page), PostgreSQL (initdb, off PATH under /usr/lib/postgresql/*/bin, for the inference log).
# Debian packages, installed only when missing.
SYSTEM_TOOLS := prometheus:prometheus promtool:prometheus chromium:chromium \
	kubectl:kubernetes-client
deps-system:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for the tests:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

test: $(VENV)/.test-installed deps-system
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest $(PYTEST_ARGS)

# The container image (Containerfile), with podman or docker, whichever is installed.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= ebb:$(VERSION)
image:
	@engine=$$(command -v podman || command -v docker); \
	if [ -z "$$engine" ]; then \
	  echo "make image: needs podman or docker, and neither is installed"; exit 1; fi; \
	echo "$$engine build -f Containerfile -t $(IMAGE) ."; \
	$$engine build -f Containerfile -t $(IMAGE) .

bench-serving: $(VENV)/.test-installed
	$(BIN)/python bench/serving.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
