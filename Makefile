# acmeca: two commands on a fresh machine, `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ACMECA_DEMO := $(CURDIR)/.acmeca
# `make run` settings, written into the demo's ca.json on every run (see the README): the HTTPS port, and for
# validation the DNS server (empty: leave ca.json's as it is) and the port http-01 connects to (empty: leave it).
DEMO_PORT ?= 8443
DEMO_RESOLVER ?=
DEMO_HTTP01_PORT ?=
PYTEST_ARGS ?=
# The real smallstep step CLI and step-ca 0.19, built offline by the shared script (../shared/tools, or
# $ACMECA_SHARED_TOOLS) into a cache outside the clone (keyed by the script's inputs, so CI on the same machine
# reuses it) and linked at .tools/bin; without the script, the newest cached build is linked.
STEP_TOOLS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/acmeca/step-tools

.PHONY: run test lint unit integration interop fuzz bench bench-soak clean venv step-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,lint,interop]'
	touch $@

venv: $(VENV)/.installed

# Applies DEMO_PORT, DEMO_RESOLVER and DEMO_HTTP01_PORT to the demo's ca.json (and its defaults.json CA URL),
# writing only when something changed, then prints what `serve` will use. argv: demo dir, port, resolver, http01.
define DEMO_SETTINGS
import json, os, sys
demo, port, resolver, http01 = sys.argv[1:]
for name, value in (("DEMO_PORT", port), ("DEMO_HTTP01_PORT", http01)):
    if value and not (value.isdigit() and 0 < int(value) < 65536):
        sys.exit(f"make run: {name}={value} is not a port number")
def update(path, change):
    with open(path) as file:
        document = json.load(file)
    before = json.dumps(document, sort_keys=True)
    change(document)
    if json.dumps(document, sort_keys=True) != before:
        tmp = f"{path}.{os.getpid()}.tmp"
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            file.write(json.dumps(document, indent=4) + "\n")
        os.replace(tmp, path)
    return document
def ca_json(document):
    document["address"] = f":{port}"
    validation = document.setdefault("validation", {})
    validation.update({"resolver": resolver} if resolver else {})
    validation.update({"http01Port": int(http01)} if http01 else {})
    if not validation:
        del document["validation"]
config = update(f"{demo}/config/ca.json", ca_json)
update(f"{demo}/config/defaults.json", lambda d: d.update({"ca-url": f"https://localhost:{port}"}))
validation = config.get("validation", {})
print("Validation: resolver", validation.get("resolver", "/etc/hosts, then /etc/resolv.conf") + ",",
      "http-01 port", validation.get("http01Port", 80))
endef
export DEMO_SETTINGS

# Demo CA under ./.acmeca (password generated there, 0600), served on https://localhost:$(DEMO_PORT) with SQLite.
run: $(VENV)/.installed
	@if [ ! -f $(ACMECA_DEMO)/config/ca.json ]; then \
		mkdir -p $(ACMECA_DEMO) && chmod 700 $(ACMECA_DEMO) && \
		umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))' > $(ACMECA_DEMO)/password && \
		ACMECA_PATH=$(ACMECA_DEMO) $(BIN)/acmeca init --name "acmeca demo" --dns localhost --dns 127.0.0.1 \
			--address :$(DEMO_PORT) --provisioner admin --password-file $(ACMECA_DEMO)/password --acme; \
	fi
	@echo
	@$(BIN)/python -c "$$DEMO_SETTINGS" "$(ACMECA_DEMO)" "$(DEMO_PORT)" "$(DEMO_RESOLVER)" "$(DEMO_HTTP01_PORT)"
	@echo "Root fingerprint: $$($(BIN)/python -c 'import json; print(json.load(open("$(ACMECA_DEMO)/config/defaults.json"))["fingerprint"])')"
	@echo "In another shell, point a client at this CA with:"
	@echo "  $(BIN)/acmeca bootstrap --ca-url https://localhost:$(DEMO_PORT) --fingerprint $$($(BIN)/python -c 'import json; print(json.load(open("$(ACMECA_DEMO)/config/defaults.json"))["fingerprint"])')"
	@echo "ACME directory: https://localhost:$(DEMO_PORT)/acme/acme/directory"
	@echo "Password of the CA keys and of the 'admin' provisioner: $(ACMECA_DEMO)/password"
	@echo
	ACMECA_PATH=$(ACMECA_DEMO) $(BIN)/acmeca serve --password-file $(ACMECA_DEMO)/password

# The suite waits on real servers and clients more than it computes: one pytest worker per CPU (pytest-xdist),
# each taking whole files, so a module's shared server stays in one process.
PYTEST_PARALLEL ?= -n auto --dist loadfile
test: $(VENV)/.installed step-tools
	$(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

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

# Client-like load on acmeca (SQLite, PostgreSQL, 1 and N workers), Pebble and step-ca in one table; not CI.
# It re-runs itself in its own network namespace (root, unshare); extra flags: make bench BENCH_ARGS='-n 40 -w 10'.
BENCH_ARGS ?=
bench: $(VENV)/.installed step-tools
	$(BIN)/python -m bench.acme_load --lint-axis $(BENCH_ARGS)
	$(BIN)/python -m bench.issuance_checks -n 100
	$(BIN)/python -m bench.connection_pressure

# acmeca's memory over at most 10,000 orders and 20 minutes: RSS per process after 1,000 and 10,000; not CI.
bench-soak: $(VENV)/.installed
	$(BIN)/python -m bench.soak $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
