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

ROUTER_WHEELS := $(CURDIR)/.cache/wheels/router
export GPUFLEET_ROUTER_WHEELS := $(ROUTER_WHEELS)

.PHONY: help test host-deps venv sglang-parser bench-venv test-image router-wheels lint yamllint ansible-lint changelog-lint ruff sanity unit \
        molecule build bench-plan bench-rollout bench-weights bench-converge demo demo-down clean

help:
	@echo "make test        everything CI runs: deps, lint, sanity, unit, real-parser, molecule"
	@echo "make demo        a local fleet (2 groups x 2 nodes + router): site.yml, chat, rolling restart under load"
	@echo "make demo-down   remove the demo fleet"
	@echo "make bench-rollout  the demo's rollout under load; prints requests/failed/rollout_s/overhead"
	@echo "make bench-plan  plan a generated 1,000-host fleet and print figures"
	@echo "make bench-weights  8-node weight fan-out vs every node pulling, over shaped links"
	@echo "make bench-converge  a no-op site.yml on the demo fleet vs a bare fact-gathering play (ratio)"
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

# The parser venv plus what sglang.bench_serving imports (playbooks/benchmark.yml runs it from there).
bench-venv:
	tools/sglang-bench-venv.sh $(SGLANG_VENV)

test-image:
	tools/build-test-image.sh

# The router hosts install smg (the Shepherd Model Gateway) offline from these (test hosts cannot
# reach an index; offline sites do the same with their own copy).
$(ROUTER_WHEELS)/.stamp: requirements/router.txt
	mkdir -p $(ROUTER_WHEELS)
	$(BIN)/pip download -q --no-deps -r requirements/router.txt -d $(ROUTER_WHEELS)
	touch $@

router-wheels: venv $(ROUTER_WHEELS)/.stamp

lint: yamllint ansible-lint changelog-lint ruff

yamllint: venv
	yamllint --strict .

ansible-lint: venv
	ansible-lint --offline

# Python lint and format (ruff.toml): plugins, tools, benchmarks, tests and the scripts roles install.
ruff: venv
	ruff check .
	ruff format --check .

# Every changelog fragment in a known section (changelogs/config.yaml), and changelog.yaml well formed.
changelog-lint: venv
	antsibull-changelog lint
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

sanity: venv
	tools/ansible-test-sanity.sh

unit: venv sglang-parser bench-venv
	pytest -q tests/unit tests/sglang_parser

molecule: venv test-image router-wheels
	tools/molecule-all.sh $(SCENARIOS)

build: venv
	ansible-galaxy collection build --force --output-path .cache/dist

bench-plan: venv
	$(BIN)/python benchmarks/bench_plan.py

bench-weights: host-deps venv test-image
	$(BIN)/python benchmarks/bench_weights.py

DEMO_DEPS := host-deps venv test-image router-wheels bench-venv

demo: $(DEMO_DEPS)
	tools/demo.sh run

demo-down:
	tools/demo.sh down

bench-rollout: $(DEMO_DEPS)
	tools/demo.sh bench

bench-converge: $(DEMO_DEPS)
	benchmarks/bench_converge.sh

clean:
	rm -rf .cache tests/output .pytest_cache
