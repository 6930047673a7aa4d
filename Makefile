# Two promises: `make run` starts the portal with demo data, `make test` passes every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
HTMX_VERSION := 4.0.1
HTMX_SHA256 := a0abb04f2f45a1f89d1d4844023245537e5e6014c87b144553e0607b4cc32130
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
# The role the app runs as in test-pg, as in production (SECURITY.md); empty: one role.
PG_RUNTIME_ROLE ?= portal_runtime

.PHONY: run test test-pg ci install install-test chromium migrate seed lint htmx clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: requirements.txt requirements-bench.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## run: install, migrate, seed the demo if the database is empty, then (Procfile, honcho) serve on
## http://$(HOST):$(PORT) with the worker and, unless MAIL_SERVER is set, the development mail
## server keeping every message under instance/mail/ (in development mode: generated secret
## key, the SMART stand-in page, demo data). Ctrl+C stops all of them. Links in mail use
## PORTAL_URL, by default http://$(HOST):$(PORT).
run: export PORTAL_ENV = development
run: export HOST := $(HOST)
run: export WORKERS := $(WORKERS)
run: export PORTAL_URL ?= http://$(HOST):$(PORT)
run: install
	$(BIN)/flask --app app migrate
	$(BIN)/flask --app app seed-demo --if-empty
	@echo "Portale su http://$(HOST):$(PORT)  (Ctrl+C per fermare portale, worker e posta)"
	@if [ -n "$$MAIL_SERVER" ]; then \
		echo "Posta: al server SMTP $$MAIL_SERVER (MAIL_SERVER)"; \
		exec $(BIN)/honcho start --port $(PORT) web worker; \
	else \
		echo "Posta: nessun MAIL_SERVER, ogni messaggio finisce in $(CURDIR)/instance/mail/ (un file .eml)"; \
		exec $(BIN)/honcho start --port $(PORT) web worker mail; \
	fi

migrate: install
	$(BIN)/flask --app app migrate

seed: export PORTAL_ENV = development
seed: install
	$(BIN)/flask --app app seed-demo

## test: install what the tests need (Chromium included) and run the whole suite on SQLite
test: install-test chromium
	$(BIN)/pytest

## test-pg: the same suite on PostgreSQL ($(PG_TEST_URL)), a fresh schema per test, migrated
## by the URL's user and used by the app as $(PG_RUNTIME_ROLE) (created if missing, LOGIN)
test-pg: install-test chromium
	@if [ -n "$(PG_RUNTIME_ROLE)" ]; then \
		psql "$(PG_TEST_URL)" -qAtc "SELECT 1 FROM pg_roles WHERE rolname = '$(PG_RUNTIME_ROLE)'" \
		| grep -q 1 || psql "$(PG_TEST_URL)" -v ON_ERROR_STOP=1 -qc 'CREATE ROLE "$(PG_RUNTIME_ROLE)" LOGIN'; \
	fi
	TEST_DATABASE_URL=$(PG_TEST_URL) TEST_RUNTIME_ROLE=$(PG_RUNTIME_ROLE) $(BIN)/pytest

ci: test test-pg

## chromium: the browser for the Playwright tests (Debian's package when running as root)
chromium:
	@if [ -n "$$CHROMIUM_PATH" ] && [ -x "$$CHROMIUM_PATH" ]; then exit 0; fi; \
	if command -v chromium >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installo Chromium (apt-get)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Chromium non trovato: installalo (es. apt-get install chromium) o imposta CHROMIUM_PATH."; exit 1; \
	fi

## bench: studios of 1,000 and 100,000 clients in throw-away databases, timed against their
## floors; prints each budget's verdict, writes bench/results/ (BENCH_DATABASE_URL: + PostgreSQL)
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install-test
	$(BIN)/ruff check .

## htmx: refresh static/htmx.min.js from the npm registry, checking its sha256
htmx:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent htmx.org@$(HTMX_VERSION) >/dev/null && \
	tar xzf htmx.org-$(HTMX_VERSION).tgz && \
	echo "$(HTMX_SHA256)  package/dist/htmx.min.js" | sha256sum -c - && \
	cp package/dist/htmx.min.js $(CURDIR)/static/htmx.min.js && \
	cp package/LICENSE $(CURDIR)/static/htmx.LICENSE && rm -rf $$tmp

clean:
	rm -rf $(VENV)
