# Two commands for a new user: `make demo` and `make test`. Each builds .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The demo needs the sandbox extra only (about 50 MB, 20 s), not the whole [dev] set
# (about 280 MB, 90 s): a venv of its own, so `make demo` never waits for the test tools.
DEMO_VENV  := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed

.PHONY: help demo mcp-demo test system-deps lint typecheck unit properties record models docs screenshot bench faults fleet-load clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

help: ## this list
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 22

$(DEMO_VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(DEMO_VENV)/bin/python
	$(DEMO_VENV)/bin/python -m pip install --quiet -e '.[sandbox]'
	@touch $(DEMO_STAMP)

demo: $(DEMO_STAMP) ## the main job (sync, onboard, offboard, reconcile, review) on a local sandbox
	$(DEMO_VENV)/bin/python examples/demo.py

# An assistant's exchange with `loom-scim mcp` over stdio, driven by the official MCP SDK's
# client: "who left but still has access?", then each offboarded with its plan confirmed.
mcp-demo: $(STAMP) ## an AI assistant's MCP exchange with the sandbox (reconcile, confirm, offboard)
	$(BIN)/python examples/mcp_assistant.py

test: $(STAMP) system-deps lint typecheck unit ## ruff, mypy --strict and every test, offline

# The browser tests need Debian's chromium and chromium-driver. Under CI=true (where they
# must run) they are installed when missing; elsewhere a missing one is named and skipped.
system-deps: ## install the system packages the tests need (chromium; apt-get, as root)
	@bash scripts/system-deps $(if $(filter true,$(CI)),install)

lint: $(STAMP) ## ruff check and format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy --strict
	$(BIN)/mypy

unit: $(STAMP) ## the tests (cassettes replayed, recording off)
	$(BIN)/pytest --record-mode=none

# The "never a false delete" properties with many more random examples (minutes, not
# seconds); `make unit` runs the same tests with the small, fixed "default" profile.
properties: $(STAMP) ## the deletion properties, 2,000 random examples each (minutes)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest --record-mode=none tests/test_properties.py

# Re-record the cassettes: against the sandbox by default, or against a real workspace
# when LOOM_SCIM_BRIDGE_URL and LOOM_SCIM_API_KEY are set.
record: $(STAMP) ## re-record the cassettes (sandbox, or a workspace from the environment)
	$(BIN)/pytest --record-mode=rewrite tests/test_replay_users.py tests/test_replay_groups.py tests/test_replay_failures.py
	$(BIN)/pytest --record-mode=none tests/test_cassettes.py

# Regenerate the README's sample output from the commands it shows.
docs: $(STAMP) ## regenerate the README's sample output (a test fails when it is stale)
	$(BIN)/python -m tests.readme_samples --write
	$(BIN)/python -m tests.mcp_tools_doc --write

# The access review's screenshot in the README: the demo workspace's review, the whole page
# at a laptop's width (1366 px) in headless Chromium (tests/test_review_layout.py fails when
# its size no longer matches the page).
screenshot: $(STAMP) system-deps ## regenerate docs/review-page.png (needs chromium, chromium-driver)
	$(BIN)/python -m tests.review_demo docs/review-page.png

# Regenerate the JSON Schemas of the models inside integrations.yaml.
models: $(STAMP) ## regenerate the model schemas in integrations.yaml
	$(BIN)/loom-scim manifest --write-models

bench: $(STAMP) ## the benchmarks: figures side by side
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_sync.py
	$(BIN)/python benchmarks/bench_walk.py
	$(BIN)/python benchmarks/bench_speed.py

# The fault matrix: the CLI against the sandbox behind a fault proxy (SEEDS=N per row).
faults: $(STAMP) ## the fault matrix (SEEDS=N per row); exits non-zero on any loss
	$(BIN)/python benchmarks/faults.py $(if $(SEEDS),--seeds $(SEEDS))

# The fleet under load: 2,000 workspaces of uneven sizes (most under 200 members, four of
# 20,000 to 50,000), 2 Celery workers, on RabbitMQ and on Redis in one run, a whole worker
# SIGKILLed mid-run with the default time limits. Needs PostgreSQL, Redis and RabbitMQ
# (see "Running a fleet"); uses Redis database 13 (flushed), a RabbitMQ vhost and a
# PostgreSQL schema of its own. QUICK=1: 200 workspaces, sizes a tenth.
fleet-load: $(STAMP) ## the fleet under load, both brokers, a worker killed; non-zero on any loss
	$(BIN)/python benchmarks/fleet_load.py $(if $(QUICK),--quick)

clean: ## remove .venv, .venv-demo, caches and the default store
	rm -rf $(VENV) $(DEMO_VENV) .mypy_cache .ruff_cache .pytest_cache loom-scim.sqlite3
