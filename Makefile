# litelens: every developer and CI entry point. `make run` and `make test` set up everything
# on a fresh machine (the only downloads are packages from the package registries).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
# checkov in its own venv: its pins would downgrade the dev set's (infra/aws/checkov-requirements.in).
CHECKOV_VENV := .venv-checkov
CHECKOV_REQUIREMENTS := infra/aws/checkov-requirements.txt
DEMO_BUNDLE ?= bundles/demo
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

# The Lambda target is python3.12: use it where it exists (PATH, then pyenv), else fall back to 3.11.
# A pyenv shim may exist without its version being active, so each candidate must really run.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3.11 python3; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] >= (3, 11)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

.PHONY: help venv checkov-venv kserve-venv lint typecheck format test test-fast test-unit test-functional test-integration run bench lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/uv:
	@test -n "$(PYTHON)" || { echo "no python3.11+ found" >&2; exit 1; }
	@echo "creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(BIN)/uv uv.lock pyproject.toml
	$(BIN)/uv sync --frozen --all-extras --python $(BIN)/python
	@touch $@

venv: $(VENV)/.synced  ## create .venv with every dependency set, pinned by uv.lock

$(CHECKOV_VENV)/.installed: $(BIN)/uv $(CHECKOV_REQUIREMENTS)
	rm -rf $(CHECKOV_VENV)
	$(BIN)/uv venv -q --python $(BIN)/python $(CHECKOV_VENV)
	$(BIN)/uv pip install -q --python $(CHECKOV_VENV)/bin/python --require-hashes -r $(CHECKOV_REQUIREMENTS)
	@touch $@

checkov-venv: $(CHECKOV_VENV)/.installed  ## create .venv-checkov: checkov alone, every package pinned and hashed

# KServe's Python SDK, for the integration test that runs its client against the twin: its own venv,
# because its pins (protobuf, pandas, ml-dtypes) would downgrade TensorFlow's in uv.lock.
KSERVE_VENV := .venv-kserve
$(KSERVE_VENV)/.synced: $(BIN)/uv tests/clients/kserve-requirements.txt
	test -x $(KSERVE_VENV)/bin/python || $(BIN)/uv venv -q --python $(BIN)/python $(KSERVE_VENV)
	$(BIN)/uv pip install -q --python $(KSERVE_VENV)/bin/python --require-hashes -r tests/clients/kserve-requirements.txt
	@touch $@

kserve-venv: $(KSERVE_VENV)/.synced  ## the KServe client's own venv (the integration tests use it)

lint: venv  ## ruff lint and format check, then mypy (make typecheck)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

# mypy cannot follow the editable install's import hook that maps litelens.<package> to <package>/, so it
# reads the package through links, .typecheck/litelens/<package> -> <package> (mypy_path = .typecheck; the
# __init__.py makes the root a regular package, as mypy resolves a module beside a same-named folder only
# then). The links' prefix is cut from the report, which so names the files by their paths in the repo.
TYPECHECK_PACKAGES := build explain functions infra
typecheck: venv  ## mypy: strict on build/bundle, explain and functions, basic on the rest ([tool.mypy])
	@rm -rf .typecheck && mkdir -p .typecheck/litelens && touch .typecheck/litelens/__init__.py
	@for package in $(TYPECHECK_PACKAGES); do ln -s ../../$$package .typecheck/litelens/$$package; done
	set -o pipefail; $(BIN)/python -m mypy | sed -e 's#\.typecheck/litelens/##g'

format: venv  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The tiers (tests/README.md): unit trains no model and starts no server, functional trains small bundles
# and imports the functions' app.py, integration starts servers and external tools.
test: lint checkov-venv kserve-venv  ## lint, then every tier: unit, functional, integration (checkov and the KServe client included)
	$(BIN)/python -m pytest tests

test-fast: test-unit  ## the edit-test loop: the unit tier (seconds)

test-unit: venv  ## the unit tier: no training, no servers (tests/unit)
	$(BIN)/python -m pytest tests/unit

test-functional: venv  ## the functional tier: trains small bundles, imports the functions' app.py (tests/functional)
	$(BIN)/python -m pytest tests/functional

test-integration: venv checkov-venv kserve-venv  ## integration tests (moto server, local twin, sam build, checkov, clients)
	$(BIN)/python -m pytest tests/integration

$(DEMO_BUNDLE)/bundle.json: | venv
	$(BIN)/litelens build --demo breast_cancer --out $(DEMO_BUNDLE) --force

run: venv $(DEMO_BUNDLE)/bundle.json  ## build the demo bundle, serve the API and the explain page on 127.0.0.1:3000
	@echo "explain page: http://127.0.0.1:3000/ (open it in a browser once the servers listen)"
	$(BIN)/litelens serve --bundle $(DEMO_BUNDLE)

bench: venv  ## benchmark predict and explain against their baselines
	$(BIN)/litelens bench predict
	$(BIN)/litelens bench explain

lock: $(BIN)/uv  ## re-resolve uv.lock and the functions' pinned requirements
	$(BIN)/uv lock --python $(BIN)/python
	$(BIN)/python -m litelens.infra.locks
	cd infra/aws && ../../$(BIN)/uv pip compile -q --universal --python ../../$(BIN)/python --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" checkov-requirements.in -o checkov-requirements.txt

clean:  ## remove build outputs (keeps .venv)
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache .typecheck
