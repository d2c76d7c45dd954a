# Two commands for a new user: `make demo` and `make test`. Each builds .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit properties record models bench faults clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest --record-mode=none

# The "never a false delete" properties with many more random examples (minutes, not
# seconds); `make unit` runs the same tests with the small, fixed "default" profile.
properties: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/pytest --record-mode=none tests/test_properties.py

# Re-record the cassettes: against the sandbox by default, or against a real workspace
# when LOOM_SCIM_BRIDGE_URL and LOOM_SCIM_API_KEY are set.
record: $(STAMP)
	$(BIN)/pytest --record-mode=rewrite tests/test_replay_users.py tests/test_replay_groups.py tests/test_replay_failures.py
	$(BIN)/pytest --record-mode=none tests/test_cassettes.py

# Regenerate the JSON Schemas of the models inside integrations.yaml.
models: $(STAMP)
	$(BIN)/loom-scim manifest --write-models

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_models.py
	$(BIN)/python benchmarks/bench_sync.py
	$(BIN)/python benchmarks/bench_walk.py

# The fault matrix: the CLI against the sandbox behind a fault proxy (SEEDS=N per row).
faults: $(STAMP)
	$(BIN)/python benchmarks/faults.py $(if $(SEEDS),--seeds $(SEEDS))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache loom-scim.sqlite3
