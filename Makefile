# gpufleet.sglang: one test command (`make test`), on a fresh Debian 12 machine as root.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        := .venv
SGLANG_VENV := .venv-sglang
BIN         := $(CURDIR)/$(VENV)/bin
SCENARIOS   ?= $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export MOLECULE_GLOB := molecule/*/molecule.yml
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help test host-deps venv sglang-parser test-image lint yamllint ansible-lint sanity unit \
        molecule build bench-plan demo demo-down clean

help:
	@echo "make test        everything CI runs: deps, lint, sanity, unit, real-parser, molecule"
	@echo "make demo        (coming with the router/rolling-restart work)"
	@echo "make bench-plan  plan a generated 1,000-host fleet and print figures"
	@echo "make build       ansible-galaxy collection build (tests/molecule excluded)"

test: host-deps venv sglang-parser test-image lint sanity unit molecule
	@echo "make test: all stages passed"

host-deps:
	tools/ensure-host-deps.sh

$(VENV)/.stamp: requirements/controller.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements/controller.txt
	touch $@

venv: $(VENV)/.stamp

sglang-parser:
	tools/sglang-parser-venv.sh $(SGLANG_VENV)

test-image:
	tools/build-test-image.sh

lint: yamllint ansible-lint

yamllint: venv
	yamllint --strict .

ansible-lint: venv
	ansible-lint --offline

sanity: venv
	tools/ansible-test-sanity.sh

unit: venv sglang-parser
	pytest -q tests/unit tests/sglang_parser

molecule: venv test-image
	@for s in $(SCENARIOS); do \
	  echo "=== molecule test -s $$s"; \
	  molecule test -s $$s || exit 1; \
	done

build: venv
	ansible-galaxy collection build --force --output-path .cache/dist

bench-plan: venv
	$(BIN)/python benchmarks/bench_plan.py

demo:
	@echo "make demo arrives with the router and rolling-restart work (issue 'Router, rolling restarts and the demo fleet')." >&2
	@exit 2

demo-down:
	@echo "nothing to remove yet" >&2

clean:
	rm -rf .cache tests/output .pytest_cache
