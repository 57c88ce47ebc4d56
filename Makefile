# Two commands for a newcomer:  `make run`  and  `make test`.
# Both set up everything they need first (virtual environment, dependencies,
# compiled translations, database, demo data; browser and axe-core for the tests).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export LMS_INSTANCE_PATH ?= $(CURDIR)/instance
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup translations browser-deps pdf-tools lint messages clean

run: setup
	$(BIN)/lms db upgrade
	$(BIN)/lms seed-demo
	@# The scheduler (reminders, digests, e-mail) runs beside the web server and stops with it.
	$(BIN)/lms scheduler & scheduler=$$!; trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(BIN)/lms run --host $(HOST) --port $(PORT)

test: setup browser-deps pdf-tools
	$(BIN)/pytest

setup: $(VENV)/.installed translations

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

translations: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d lms/translations 2>&1 | grep -v '^compiling' || true
	@test -f lms/translations/vi/LC_MESSAGES/messages.mo

# Debian's chromium for the browser tests and axe-core (npm) for the accessibility checks.
browser-deps: node_modules/axe-core/axe.min.js
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's poppler-utils (pdftotext, pdftoppm, pdffonts): the certificate tests read the PDFs.
pdf-tools:
	@command -v pdftotext >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }

node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

# Re-extract the strings and update both catalogs (then translate what is new).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs '.* __pycache__ node_modules' --no-location --sort-output -o lms/translations/messages.pot .
	$(BIN)/pybabel update -i lms/translations/messages.pot -d lms/translations --no-fuzzy-matching --ignore-obsolete
	$(BIN)/python tools/fill_en_catalog.py

lint: $(VENV)/.installed
	$(BIN)/ruff check lms tests seeds

clean:
	rm -rf $(VENV) node_modules build dist *.egg-info
