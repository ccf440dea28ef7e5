# cnxbackup — the two commands users need are `make backup ENV=<env>` and `make test`.
# Everything the project needs is installed here (system packages through apt-get when
# they are missing, Python packages into .venv), never by hand.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ENV ?= demo
SET ?=
ARGS ?=
SYSTEM_TOOLS := jython java tar zstd ssh sshd gpg

# Production hosts (RHEL 8/9, SLES 15: no internet, no Jython, Java or sshd of their own) run the
# single-file zipapp of `make dist`, copied to dist/cnxbackup.pyz, with the distribution's own
# Python 3.9+: then plan/backup/verify/restore/cleanup never run pip or apt-get.
DIST_PYZ := dist/cnxbackup.pyz
PY_DIST := $(shell for p in python3.13 python3.12 python3.11 python3.10 python3.9 python3; do \
  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null \
  && { echo $$p; break; }; done)
ifneq ($(wildcard $(DIST_PYZ)),)
CNX = $(if $(PY_DIST),$(PY_DIST),$(error no Python 3.9 or later found: install python39 or python3.11 (RHEL 8), python311 (SLES 15))) $(DIST_PYZ)
RUNTIME :=
else
CNX = $(VENV)/bin/cnxbackup
RUNTIME := setup
endif

.PHONY: help setup system-deps test test-fast lint check-jython21 vermin plan backup init cleanup verify restore bench dist clean

help:
	@echo "make setup            install system tools (jython, zstd, ssh) and the Python venv"
	@echo "make test             the layer contract (lint) and the whole test suite (what CI runs)"
	@echo "make test-fast        the unit tier only (tests/unit, under a minute and a half)"
	@echo "make init ENV=prod    write environments/prod.yaml from what this host shows"
	@echo "make plan ENV=prod    preflight + plan, changes nothing"
	@echo "make backup ENV=prod  back up the environment described in environments/prod.yaml"
	@echo "make verify SET=DIR ENV=prod   verify a backup set (ARGS=--deep for a full read)"
	@echo "make restore SET=DIR ENV=prod ARGS='--dry-run'"
	@echo "make bench            speed and memory benchmark"
	@echo "make dist             build dist/cnxbackup.pyz (single-file zipapp)"

system-deps:
	@missing=""; \
	for t in $(SYSTEM_TOOLS); do \
	  p=$$(command -v $$t || ls /usr/sbin/$$t 2>/dev/null); [ -n "$$p" ] || missing="$$missing $$t"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing missing system tools:$$missing"; \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "error: missing$$missing and cannot apt-get install them (need root on Debian/Ubuntu)" >&2; exit 1; \
	  fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq jython default-jre-headless tar zstd openssh-client openssh-server gnupg >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test,fast]'
	touch $(STAMP)

setup: system-deps $(STAMP)

# four workers on the two cores: the end-to-end tests wait on JVMs, sleeps and child processes
# often enough that more workers fill the gaps (fresh clone, pytest: 620 s with three, 581 s with four)
test: setup lint
	$(VPY) -m pytest -q -ra -n 4 --dist loadfile $(ARGS) tests

# the unit tier only (tests/unit): in-process, no CLI process, no Jython, no sshd
test-fast: setup
	$(VPY) -m pytest -q -ra -n 2 $(ARGS) tests/unit

lint: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

check-jython21: setup
	jython tools/check_jython21.py wsadmin

vermin: setup
	# no --eval-annotations: every module has `from __future__ import annotations` (tests/unit/test_python39.py)
	$(VENV)/bin/vermin -q --no-tips --violations -t=3.9- driver/cnxbackup

# an environment file must exist: name the ones that do, and how to write one
define need_env
	@if [ ! -f "environments/$(ENV).yaml" ] && [ ! -f "$(ENV)" ]; then \
	  echo "error: environments/$(ENV).yaml does not exist; write it with: $(CNX) init --env $(ENV)" >&2; \
	  echo "environments that exist: $$(ls environments/ 2>/dev/null | sed -n 's/\.yaml$$//p' | tr '\n' ' ')" >&2; \
	  exit 2; fi
endef

plan: $(RUNTIME)
	$(need_env)
	$(CNX) plan --env $(ENV) $(ARGS)

backup: $(RUNTIME)
	$(need_env)
	$(CNX) backup --env $(ENV) $(ARGS)

init: $(RUNTIME)
	$(CNX) init --env $(ENV) $(ARGS)

cleanup: $(RUNTIME)
	$(need_env)
	$(CNX) cleanup --env $(ENV) $(ARGS)

# verify and restore name both the set and the environment: a default could mean the wrong deployment
define need_set_and_env
	@if [ -z "$(SET)" ] || [ "$(origin ENV)" = "file" ]; then \
	  echo "error: make $@ needs SET=<backup set folder> and ENV=<environment> (e.g. make $@ SET=/backup/cnx/prod-20261201T2100 ENV=prod)" >&2; \
	  exit 2; fi
endef

verify:
	$(need_set_and_env)
	@$(if $(RUNTIME),$(MAKE) --no-print-directory setup,true)
	$(CNX) verify $(SET) --env $(ENV) $(ARGS)

restore:
	$(need_set_and_env)
	@$(if $(RUNTIME),$(MAKE) --no-print-directory setup,true)
	$(CNX) restore $(SET) --env $(ENV) $(ARGS)

bench: setup
	$(VPY) bench/bench.py $(ARGS)

dist: setup
	@# Stage a copy under build/ whose package carries the run-time assets as cnxbackup/_assets
	@# (paths.assets_root() falls back to it), then let shiv pip-install it with its dependencies.
	@# DIST_DIR / DIST_STAGE may be overridden (tests/e2e/product/test_dist.py builds into a temp dir).
	@set -e; out="$(or $(DIST_DIR),dist)"; stage="$(or $(DIST_STAGE),build/dist-stage)"; \
	rm -rf "$$stage"; mkdir -p "$$stage/driver" "$$out"; \
	cp -p pyproject.toml "$$stage/"; cp -pR driver/cnxbackup "$$stage/driver/"; \
	assets="$$stage/driver/cnxbackup/_assets"; rm -rf "$$assets"; mkdir -p "$$assets"; \
	cp -pR wsadmin templates environments "$$assets/"; \
	find "$$stage" \( -name __pycache__ -o -name '*$$py.class' -o -name '*.egg-info' \) -prune -exec rm -rf {} +; \
	printf '\n[tool.setuptools.package-data]\ncnxbackup = ["_assets/**/*", "demo/mock_wsadmin/**/*", "demo/fakes/**/*"]\n' >> "$$stage/pyproject.toml"; \
	$(VENV)/bin/shiv -q -o "$$out/cnxbackup.pyz" -c cnxbackup --reproducible -p '/usr/bin/env python3' "$$stage"; \
	$(VPY) tools/pure_zipapp.py "$$out/cnxbackup.pyz"; \
	echo "built $$out/cnxbackup.pyz ($$(du -k "$$out/cnxbackup.pyz" | cut -f1) KB)"

clean:
	rm -rf $(VENV) dist build .pytest_cache
