# Heyan (核验). `make run` serves on the embedded default; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEPS_HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(DEPS_HASH)

.PHONY: run test lint fmt migrate bench install models typecheck load browser image container-test compose-test

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,models]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# The browser tests' tooling, idempotent (nothing to do when it is there; apt-get when root):
# Debian's Chromium (tests/test_docs_offline.py loads /docs with the network off;
# tests/browser drives the capture page with a fake camera), a CJK font so the screenshots
# show the Chinese text, Node.js and playwright-core from package-lock.json into
# ./node_modules (npm ci; playwright-core downloads no browser, it drives /usr/bin/chromium).
NODE_STAMP := node_modules/.installed-$(shell sha1sum package-lock.json 2>/dev/null | cut -c1-12)
browser:
	@missing=""; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || missing="$$missing fonts-wqy-microhei"; \
	  command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	  command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	  if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null; \
	    else echo "not installed:$$missing (the browser tests will be skipped, or fail with CI=true)"; fi; \
	  fi
	@if command -v npm >/dev/null 2>&1 && ! test -f $(NODE_STAMP); then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $(NODE_STAMP); fi

models: install
	$(PY) -m app models prepare

migrate: install
	$(PY) -m app migrate

run: install models
	APP_ENV=$${APP_ENV:-dev} $(PY) -m app serve --host 127.0.0.1 --port 8000

test: install models browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check app tests bench testkit
	$(VENV)/bin/ruff format --check app tests bench testkit

fmt: install
	$(VENV)/bin/ruff format app tests bench testkit
	$(VENV)/bin/ruff check --fix app tests bench testkit

typecheck: install
	$(VENV)/bin/mypy app testkit

bench: install models
	$(PY) -m bench.doc_speed
	$(PY) -m bench.face_speed
	$(PY) -m bench.speech_eval

# Load test (locust, the `bench` extra): starts 1 and 2 local processes on PostgreSQL
# (LOAD_DATABASE_URL, default database heyan_load on 127.0.0.1, created if missing),
# writes bench/load/results/summary.md. LOAD_ARGS passes options to bench/load/run.py.
$(VENV)/.bench-$(DEPS_HASH): $(STAMP)
	$(PY) -m pip install -q -e '.[test,models,bench]'
	@rm -f $(VENV)/.bench-*
	@touch $@

load: models $(VENV)/.bench-$(DEPS_HASH)
	$(PY) -m bench.load.run $(LOAD_ARGS)

# The API image, built here with podman FROM a local Debian bookworm base (debootstrap, then
# `podman import`; no public image registry), pip on this host's package index; prints its
# size. deploy/build-image.sh installs podman, runc and debootstrap with apt-get when root.
# IMAGE (heyan:local), BASE_IMAGE (heyan-base:bookworm; python:3.11-slim where it can be pulled).
image:
	deploy/build-image.sh

# The image run as operators run it, against this machine's PostgreSQL (tests/container/run_image.py):
# readiness, provider create inside it, a document flow with the full checks, SIGTERM, clean log.
container-test: image models
	$(PY) -m tests.container.run_image

# The compose stack under podman-compose (tests/container/run_stack.py): PostgreSQL, SeaweedFS and
# Caddy images built FROM the local base (deploy/stack.sh build, cached), the API image from
# `make image`; host network on free ports (deploy/compose.host.yaml); one flow through Caddy
# with the full checks while a replica is SIGKILLed; torn down after. PODMAN_COMPOSE: the
# podman-compose to use (default: the venv's, from the test extra).
compose-test: image models
	$(PY) -m tests.container.run_stack
