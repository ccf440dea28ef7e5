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
# what the demo and the tests need of the system (the mocked wsadmin is real Jython on a JVM, the
# multi-host demo starts real sshd); apt-get installs them (make setup, as root on Debian/Ubuntu)
SYSTEM_TOOLS := jython java tar zstd ssh sshd gpg openssl
APT_PACKAGES := jython default-jre-headless tar zstd openssh-client openssh-server gnupg openssl
# what plan/backup/verify/restore/init/cleanup need on a production host: WebSphere's wsadmin brings
# its own Jython. An environment with a `demo` section runs the mocked wsadmin: the demo's tools.
RUN_TOOLS := tar zstd ssh openssl
ENV_FILE = $(firstword $(wildcard environments/$(ENV).yaml $(ENV)))
RUN_NEEDS = $(if $(and $(ENV_FILE),$(shell grep -qs '^demo:' '$(ENV_FILE)' && echo demo)),$(SYSTEM_TOOLS),$(RUN_TOOLS))

# Production hosts (RHEL 8/9, SLES 15: no internet, no Jython, Java or sshd of their own) run the
# single-file zipapp of `make dist`, copied to dist/cnxbackup.pyz, with the distribution's own
# Python 3.9+: then plan/backup/verify/restore/cleanup never run pip or apt-get.
DIST_PYZ := dist/cnxbackup.pyz
# (looked for once, and only when needed: each probe may start a version manager's shim)
PY_DIST = $(eval PY_DIST := $(shell for p in python3.13 python3.12 python3.11 python3.10 python3.9 python3; do \
  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null \
  && { echo $$p; break; }; done))$(PY_DIST)
ifneq ($(wildcard $(DIST_PYZ)),)
CNX = $(if $(PY_DIST),$(PY_DIST),$(error no Python 3.9 or later found: install python39 or python3.11 (RHEL 8), python311 (SLES 15))) $(DIST_PYZ)
RUNTIME :=
else
CNX = $(VENV)/bin/cnxbackup
RUNTIME := run-setup
endif

.PHONY: help setup run-setup system-deps run-deps test test-fast lint check-jython21 vermin plan backup init cleanup verify restore bench dist clean

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

# $(1): the system tools a target needs. What is missing is installed with apt-get (Debian/Ubuntu, as
# root); on a host without apt-get (RHEL, SLES) make installs nothing: it names what is missing and
# the production way, `make dist`'s single-file program.
define check_tools
	@missing=""; \
	for t in $(1); do \
	  p=$$(command -v $$t || ls /usr/sbin/$$t 2>/dev/null); [ -n "$$p" ] || missing="$$missing $$t"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if ! command -v apt-get >/dev/null; then \
	  echo "error: this host lacks$$missing and has no apt-get (RHEL, SLES): make installs nothing here." >&2; \
	  echo "  Production hosts run the single-file program: build it with make dist on a machine that reaches the package" >&2; \
	  echo "  registries, copy dist/cnxbackup.pyz (with this Makefile and environments/) here, and make plan|backup|verify|restore" >&2; \
	  echo "  ENV=prod runs it with the newest Python 3.9+ found. It needs only the distribution's tar, zstd, ssh and openssl" >&2; \
	  echo "  (dnf install tar zstd openssh-clients openssl; zypper install tar zstd openssh-clients openssl): Jython, Java" >&2; \
	  echo "  and sshd are for the demo and the tests (make setup on Debian/Ubuntu). README.md: \"Production install (RHEL, SLES)\"." >&2; \
	  exit 1; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: missing$$missing: make installs them with apt-get, as root (sudo make setup)" >&2; exit 1; \
	fi; \
	echo "installing missing system tools:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES) >/dev/null
endef

system-deps:
	$(call check_tools,$(SYSTEM_TOOLS))

run-deps:
	$(call check_tools,$(RUN_NEEDS))

NO_PIP = { echo "error: could not install the Python packages into $(VENV) (no package registry here?): a production host \
runs make dist's dist/cnxbackup.pyz instead (README.md: \"Production install (RHEL, SLES)\")" >&2; exit 1; }

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null || { echo "error: $(PYTHON) is not \
	Python 3.9 or later: make $(MAKECMDGOALS) PYTHON=$(or $(PY_DIST),python3.11) (RHEL 8: dnf install python3.11; SLES 15: \
	zypper install python311)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip || $(NO_PIP)
	$(VPY) -m pip install -q -e '.[test,fast]' || $(NO_PIP)
	touch $(STAMP)

setup: system-deps $(STAMP)

# the run-time targets from a checkout (no dist/cnxbackup.pyz): the tools they use, and the venv
run-setup: run-deps $(STAMP)

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
	@$(if $(RUNTIME),$(MAKE) --no-print-directory run-setup,true)
	$(CNX) verify $(SET) --env $(ENV) $(ARGS)

restore:
	$(need_set_and_env)
	@$(if $(RUNTIME),$(MAKE) --no-print-directory run-setup,true)
	$(CNX) restore $(SET) --env $(ENV) $(ARGS)

bench: setup
	$(VPY) bench/bench.py $(ARGS)

dist: setup
	@# Stage a copy under build/ whose package carries the run-time assets as cnxbackup/_assets
	@# (paths.assets_root() falls back to it), then let shiv pip-install it with its dependencies.
	@# DIST_DIR / DIST_STAGE may be overridden (tests/e2e/product/test_dist.py builds into a temp dir).
	@# The entry is cnxbackup.launch (not the console script's cli): on RHEL 8's or SLES 15's python3 (3.6)
	@# it says in one line which Python to install instead of failing on a SyntaxError.
	@set -e; out="$(or $(DIST_DIR),dist)"; stage="$(or $(DIST_STAGE),build/dist-stage)"; \
	rm -rf "$$stage"; mkdir -p "$$stage/driver" "$$out"; \
	cp -p pyproject.toml "$$stage/"; cp -pR driver/cnxbackup "$$stage/driver/"; \
	assets="$$stage/driver/cnxbackup/_assets"; rm -rf "$$assets"; mkdir -p "$$assets"; \
	cp -pR wsadmin templates environments "$$assets/"; \
	find "$$stage" \( -name __pycache__ -o -name '*$$py.class' -o -name '*.egg-info' \) -prune -exec rm -rf {} +; \
	printf '\n[tool.setuptools.package-data]\ncnxbackup = ["_assets/**/*", "demo/mock_wsadmin/**/*", "demo/fakes/**/*"]\n' >> "$$stage/pyproject.toml"; \
	$(VENV)/bin/shiv -q -o "$$out/cnxbackup.pyz" -e cnxbackup.launch:main --reproducible -p '/usr/bin/env python3' "$$stage"; \
	$(VPY) tools/pure_zipapp.py "$$out/cnxbackup.pyz"; \
	echo "built $$out/cnxbackup.pyz ($$(du -k "$$out/cnxbackup.pyz" | cut -f1) KB)"

clean:
	rm -rf $(VENV) dist build .pytest_cache
