# acmeca: two commands on a fresh machine, `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ACMECA_DEMO := $(CURDIR)/.acmeca
DEMO_PORT ?= 8443
PYTEST_ARGS ?=
# The real smallstep step CLI and step-ca 0.19, built offline by the shared script (../shared/tools, or
# $ACMECA_SHARED_TOOLS) into a cache outside the clone (keyed by the script's inputs, so CI on the same machine
# reuses it) and linked at .tools/bin; without the script, the newest cached build is linked.
STEP_TOOLS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/acmeca/step-tools

.PHONY: run test lint unit integration interop fuzz bench clean venv step-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,lint,interop]'
	touch $@

venv: $(VENV)/.installed

# Demo CA under ./.acmeca (password generated there, 0600), served on https://localhost:8443 with SQLite.
run: $(VENV)/.installed
	@if [ ! -f $(ACMECA_DEMO)/config/ca.json ]; then \
		mkdir -p $(ACMECA_DEMO) && chmod 700 $(ACMECA_DEMO) && \
		umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))' > $(ACMECA_DEMO)/password && \
		ACMECA_PATH=$(ACMECA_DEMO) $(BIN)/acmeca init --name "acmeca demo" --dns localhost --dns 127.0.0.1 \
			--address :$(DEMO_PORT) --provisioner admin --password-file $(ACMECA_DEMO)/password --acme; \
	fi
	@echo
	@echo "Root fingerprint: $$($(BIN)/python -c 'import json; print(json.load(open("$(ACMECA_DEMO)/config/defaults.json"))["fingerprint"])')"
	@echo "In another shell, point a client at this CA with:"
	@echo "  $(BIN)/acmeca bootstrap --ca-url https://localhost:$(DEMO_PORT) --fingerprint $$($(BIN)/python -c 'import json; print(json.load(open("$(ACMECA_DEMO)/config/defaults.json"))["fingerprint"])')"
	@echo "ACME directory: https://localhost:$(DEMO_PORT)/acme/acme/directory"
	@echo
	ACMECA_PATH=$(ACMECA_DEMO) $(BIN)/acmeca serve --password-file $(ACMECA_DEMO)/password

test: $(VENV)/.installed step-tools
	$(BIN)/pytest $(PYTEST_ARGS)

step-tools:
	@tools=""; \
	for d in "$(ACMECA_SHARED_TOOLS)" ../shared/tools ../../shared/tools; do \
		if [ -n "$$d" ] && [ -f "$$d/build-step-tools.sh" ]; then tools=$$(cd "$$d" && pwd); break; fi; \
	done; \
	if [ -n "$$tools" ]; then \
		sum=$$(cd "$$tools" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16); \
		dest="$(STEP_TOOLS_CACHE)/$$sum/bin"; \
		if [ ! -x "$$dest/step" ] || [ ! -x "$$dest/step-ca" ]; then \
			mkdir -p "$$dest" && bash "$$tools/build-step-tools.sh" "$$dest"; \
		fi; \
	else \
		dest=$$(ls -1dt "$(STEP_TOOLS_CACHE)"/*/bin 2>/dev/null | head -n 1); \
		if [ -z "$$dest" ] || [ ! -x "$$dest/step" ]; then \
			echo "step-tools: no ../shared/tools (or \$$ACMECA_SHARED_TOOLS) and no cached build: the step CLI tests need smallstep's step 0.19 at .tools/bin/step or \$$ACMECA_STEP_BIN"; \
			exit 0; \
		fi; \
		echo "step-tools: ../shared/tools not found; using the cached build in $$dest"; \
	fi; \
	mkdir -p .tools; [ -L .tools/bin ] || rm -rf .tools/bin; ln -sfn "$$dest" .tools/bin

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# The parser fuzzers with the long, random hypothesis profile (20,000 examples each, no per-test timeout;
# CI runs 200 per parser, derandomized).
fuzz: $(VENV)/.installed
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/unit/fuzz --timeout=0 $(PYTEST_ARGS)

interop: $(VENV)/.installed
	$(BIN)/pytest tests/interop $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check acmeca tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.installed
	$(BIN)/python -m bench.acme_load

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
