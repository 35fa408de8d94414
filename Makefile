# SalesOps — `make run` starts the product with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Django 6 needs Python >= 3.12; the machine's default python3 may be older. Try candidates in
# order (pyenv shims answer "command not found" unless PYENV_VERSION is set) and keep the first.
define FIND_PYTHON
for c in "$$PYTHON" python3.13 python3.12 "env PYENV_VERSION=3.13.0 python3.13" "env PYENV_VERSION=3.12.1 python3.12" \
         $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] python3; do \
  [ -n "$$c" ] || continue; \
  if $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then echo "$$c"; exit 0; fi; \
done; echo "no Python >= 3.12 found: install one or set PYTHON=/path/to/python3.12" >&2; exit 1
endef

.PHONY: install system-deps run worker test test-fast bench bench-load migrate seed check clean serve screenshots

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@PYBIN="$$($(FIND_PYTHON))" && echo "using $$PYBIN ($$($$PYBIN --version))" && \
	  { $$PYBIN -c 'import ensurepip, venv' 2>/dev/null || scripts/install-system-deps --venv-for "$$PYBIN"; } && \
	  $$PYBIN -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

# chromium, poppler, the CJK font, ffmpeg, gettext (apt-get as root or with sudo; otherwise it
# prints the one command to run and stops here, before pytest).
system-deps:
	@scripts/install-system-deps

migrate: install
	DEBUG=1 $(PY) manage.py migrate --noinput

seed: migrate
	DEBUG=1 $(PY) manage.py seed_demo

# Web server and a qcluster worker together until Ctrl-C.
run: migrate
	DEBUG=1 $(PY) manage.py seed_demo --if-empty
	@echo "SalesOps: http://$(HOST):$(PORT)/  (worker: qcluster; Ctrl-C stops both)"
	@trap 'kill 0' INT TERM; \
	DEBUG=1 $(PY) manage.py qcluster & \
	DEBUG=1 Q_CLUSTER_NAME=salesops-delivery $(PY) manage.py qcluster & \
	DEBUG=1 Q_CLUSTER_NAME=salesops-wecom $(PY) manage.py qcluster & \
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT) & \
	wait

# Production mode in one command (DEBUG off): check --deploy, migrate, collectstatic, then gunicorn
# (WEB_CONCURRENCY workers on BIND), a qcluster worker (Q_WORKERS) and the scheduler under one
# supervisor. Needs SECRET_KEY and ALLOWED_HOSTS; DATABASE_URL/REDIS_URL for PostgreSQL/Redis.
serve: install
	$(PY) -m salesops.opstools.supervise $(SERVE_ARGS)

test: system-deps install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: system-deps install
	$(PY) -m pytest -m "not browser" $(PYTEST_ARGS)

# In-process benchmarks (tests/bench/bench_*.py), then the intake load test under gunicorn
# (1/4/16 concurrent signed clients; SQLite, plus PostgreSQL when DATABASE_URL names one).
bench: install
	$(PY) -m tests.bench $(BENCH_ARGS)
	$(PY) -m tests.bench.load_intake $(LOAD_ARGS)

bench-load: install
	$(PY) -m tests.bench.load_intake $(LOAD_ARGS)

check: install
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=salesops.example DEBUG=0 \
	  $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) staticfiles

# The main screens per role at 390×844 and 1440×900 into docs/screenshots/ (a throw-away demo DB).
screenshots: install
	$(PY) scripts/screenshots.py
