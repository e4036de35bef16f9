# The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 5000
# `make run` serves with gunicorn, as production does (one process, threads): its limits answer a too-long
# request line (414) or header (431) at once, and it times out idle or trickling connections.
SERVE = $(VENV)/bin/gunicorn --bind $(HOST):$(PORT) --worker-class gthread --threads 8 \
	--graceful-timeout 5 --no-control-socket app:app

.PHONY: install run test test-sqlite test-postgres lint bench system-deps translations catalogs fuzz

install: $(VENV)/.installed static/vendor/.installed translations

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group test
	touch $@

# npm ci installs node_modules/ (and writes its .package-lock.json): the front-end assets, copied into static/vendor/,
# and axe-core, a test asset the browser tour (tests/e2e/test_tour.py) loads from node_modules/, never served
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

static/vendor/.installed: node_modules/.package-lock.json
	rm -rf static/vendor && mkdir -p static/vendor/htmx static/vendor/pico static/vendor/swagger-ui
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico/
	cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui-bundle.js static/vendor/swagger-ui/
	touch $@

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d portal/translations >/dev/null

# After adding or changing strings: every catalog gets the code's strings (sorted, no line numbers, no fuzzy
# guesses); then translate the new empty entries in all six languages (tests/test_translations.py checks).
catalogs: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _n -k _l --no-location --sort-output -o .catalogs.pot . >/dev/null 2>&1
	$(VENV)/bin/pybabel update -i .catalogs.pot -d portal/translations --no-fuzzy-matching --ignore-obsolete >/dev/null 2>&1
	rm -f .catalogs.pot
	$(VENV)/bin/pybabel compile -d portal/translations >/dev/null

run: install
	$(FLASK) db upgrade
	$(FLASK) portal seed-demo
	@echo "Postern on http://$(HOST):$(PORT)/"
	POSTERN_DELIVERY=$${POSTERN_DELIVERY:-local} POSTERN_BASE_URL=$${POSTERN_BASE_URL:-http://$(HOST):$(PORT)} $(SERVE)

# System packages the tests drive (chromium for Playwright, Dovecot for IMAP, clamd, spamd, Postfix for the mail
# queue); installed when missing and running as root. Postfix is preseeded "Local only" so nothing asks; rsyslog
# is named so that no systemd is pulled in as the syslog provider.
SYSTEM_PACKAGES := chromium dovecot-imapd dovecot-pop3d clamav-daemon spamd spamc postfix rsyslog
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections; \
	    echo "postfix postfix/mailname string $$(hostname -f 2>/dev/null || hostname)" | debconf-set-selections; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (install them, or run as root)"; fi; \
	fi

test: install system-deps lint
	$(MAKE) --no-print-directory test-sqlite
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  $(MAKE) --no-print-directory test-postgres; \
	elif [ "$$CI" = "true" ]; then echo "PostgreSQL at $(PG_TEST_URL) is not reachable (CI=true: failing)"; exit 1; \
	else echo "PostgreSQL at $(PG_TEST_URL) is not reachable: the PostgreSQL run is left out"; fi

test-sqlite:
	$(PY) -m pytest -q

test-postgres:
	POSTERN_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -q -m "not browser"

# Schemathesis over /api/openapi.json, longer than the short profile `make test` runs: more examples per
# operation, every role of tests/world.py (POSTERN_FUZZ_EXAMPLES, POSTERN_FUZZ_ROLES to change either).
FUZZ_EXAMPLES ?= 60
FUZZ_ROLES ?= sysadmin,broker,customer,domainA,domainB,enduser,disabled,expired,none
fuzz: install
	POSTERN_FUZZ_RANDOM=1 POSTERN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) POSTERN_FUZZ_ROLES=$(FUZZ_ROLES) $(PY) -m pytest -q -p no:cacheprovider tests/api/test_schemathesis.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: install
	@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES="$(SYSTEM_PACKAGES) wrk"  # the HTTP load generator
	$(PY) bench/run.py
