# acmeca: two commands on a fresh machine, `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ACMECA_DEMO := $(CURDIR)/.acmeca
DEMO_PORT ?= 8443
PYTEST_ARGS ?=

.PHONY: run test lint unit integration interop bench clean venv

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

test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(VENV)/.installed
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: $(VENV)/.installed
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

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
