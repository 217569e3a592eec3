# The two commands: `make start` runs the app locally, `make test` runs every test.
# Each does its own set-up on a fresh machine: a Python venv, pip packages, Azurite from npm, and for the
# studio's browser tests Debian's Chromium.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: start test setup browser worker313 clean

# The app in the foreground; once it answers, `mlbatch demo` registers a sample model, endpoint and data.
# The URL and key go to .devhost/connection.json and ~/.config/mlbatch/connection.json: mlbatch finds the app
# from this folder and from any other.
start: setup local.settings.json
	@$(VENV)/bin/devhost start --app-dir . --keys-file .devhost/connection.json --keys-file & host=$$!; \
	trap 'kill $$host 2>/dev/null; wait $$host' INT TERM; \
	$(VENV)/bin/mlbatch demo --wait 180 || echo "mlbatch demo failed: the app runs without the sample"; \
	wait $$host

test: setup browser worker313
	$(PY) -m pytest $(PYTEST_ARGS)

# The app's requirements and the real Python worker library (azure-functions-runtime) on Python 3.13, for the
# tests that compare its view of the app with the local runtime's; nothing to do when it is current.
worker313: setup
	$(PY) -m tests.real_worker --build

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Playwright drives the machine's Chromium (its own browser download is not used): apt installs it if missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$sudo apt-get update -q && $$sudo apt-get install -y -q chromium; }; }

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

local.settings.json: local.settings.json.example
	test -f $@ || cp $< $@

clean:
	rm -rf $(VENV) node_modules .azurite .azurite.log .venv-py313 .venv-py313.lock
