# The two commands of the README, and a few handy ones.
#
#   make run    virtualenv + install + translations + migrate + demo data, then serve on 127.0.0.1:8000
#   make test   the same install, then lint, layer contracts, migrations check and the whole test suite (SQLite)
#
# Needs only Python 3.11+ as python3 (or PYTHON=...) and a POSIX sh. Recipes avoid bash-isms on purpose.

SHELL = /bin/sh

PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# Extra arguments, e.g. make test PYTEST_ARGS="-k consent -x", make run SEED_ARGS="--customers 200".
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`: one per core (auto); PYTEST_WORKERS=0 runs the suite in this one process.
PYTEST_WORKERS ?= auto
SEED_ARGS ?=
BENCH_ARGS ?=

BIN = $(VENV)/bin
PY = $(BIN)/python
MANAGE = $(PY) manage.py
# Reinstall only when the declared dependencies or their pins change (or the virtualenv is new).
STAMP = $(VENV)/.install-stamp

.PHONY: help run test install locale lint migrate seed messages worker beat bench serve _require_broker

help:
	@echo "make run      create .venv, install, compile translations, migrate, seed demo data, serve on $(HOST):$(PORT)"
	@echo "make test     install, ruff, import-linter, mypy, makemigrations --check, pytest (SQLite)"
	@echo "make lint     ruff, import-linter, mypy, makemigrations --check"
	@echo "make worker   Celery worker (needs CELERY_BROKER_URL)"
	@echo "make beat     Celery beat (needs CELERY_BROKER_URL)"
	@echo "make serve    production: gunicorn + Celery worker + beat, PostgreSQL and Redis (README, Production)"
	@echo "make bench    benchmarks/ingest.py (BENCH_ARGS=...)"
	@echo "make messages re-extract translatable strings into locale/*/LC_MESSAGES/django.po"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make: Python 3.11 or newer is needed as '$(PYTHON)' (override with PYTHON=...)" >&2; exit 1; }
	@if [ ! -x "$(PY)" ]; then \
		echo "Creating the virtualenv in $(VENV)"; \
		$(PYTHON) -m venv "$(VENV)" || { echo "make: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }; \
	fi
	$(PY) -m pip install -c constraints.txt -e ".[dev]"
	@touch "$(STAMP)"

install: $(STAMP)

# .mo files are not in git: compiled here with Babel, so GNU gettext is not needed to run the project.
# The project catalog is locale/; each app may keep its own (customers/locale/, backoffice/messaging/locale/...).
LOCALE_DIRS = locale $(wildcard */locale */*/locale)
locale: $(STAMP)
	@for dir in $(LOCALE_DIRS); do $(BIN)/pybabel compile -d "$$dir" -D django || exit 1; done

migrate: install locale
	$(MANAGE) migrate --noinput

seed: migrate
	$(MANAGE) seed_demo --admin-url http://$(HOST):$(PORT)/admin/ $(SEED_ARGS)

# The closing lines name the address actually served (HOST and PORT, as runserver gets them), after the seed's logins.
run: seed
	@echo "Serving on http://$(HOST):$(PORT)/ (admin: http://$(HOST):$(PORT)/admin/, staff pages: http://$(HOST):$(PORT)/staff/)"
	$(MANAGE) runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(MANAGE) makemigrations --check --dry-run

# pytest exits 5 when it ran no test: that is a failure here, never a silent pass.
test: install locale lint
	@status=0; $(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) || status=$$?; \
	if [ "$$status" -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing" >&2; exit 5; fi; \
	exit $$status

# Maintainers: after adding or changing translatable strings. Needs GNU gettext (xgettext, msgmerge).
messages: install
	$(MANAGE) makemessages -l es -l en --ignore=.venv --ignore=benchmarks --ignore=tests

# Celery falls back to eager in-process execution without a broker, so a worker only makes sense with one.
_require_broker:
	@$(PY) -c 'import os, sys, django; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.local"); django.setup(); from django.conf import settings; sys.exit(0 if settings.CELERY_BROKER_URL else 1)' \
		|| { echo "set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0), in the environment or .env" >&2; exit 1; }

worker: install locale _require_broker
	$(BIN)/celery -A backoffice worker -l info

beat: install _require_broker
	@mkdir -p var
	$(BIN)/celery -A backoffice beat -l info --schedule var/celerybeat-schedule

# Production on one machine: migrate, collectstatic, then gunicorn, a Celery worker and beat (deploy/serve.py; the
# Procfile and systemd units in deploy/ are the same processes). Needs the production environment (README).
serve: install locale
	$(PY) deploy/serve.py --bind $(HOST):$(PORT)

bench: install
	PYTHONPATH=. $(PY) benchmarks/ingest.py $(BENCH_ARGS)
