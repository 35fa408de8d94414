"""O2/O3 — settings and process layout that production relies on: one SQLite path whichever variable
names the file, PostgreSQL timeouts below the worker timeout, the supervisor's refusals and its
exit when a child dies, and a compose file that describes the scaled-out layout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from salesops.opstools import supervise

ROOT = Path(__file__).resolve().parents[2]
PRINT_DB = "import json, django; django.setup(); from django.conf import settings; print(json.dumps(settings.DATABASES['default'], default=str))"


def _settings_db(**env) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SQLITE_PATH"}}
    clean.update(DJANGO_SETTINGS_MODULE="salesops.settings", DEBUG="1", **env)
    done = subprocess.run([sys.executable, "-c", PRINT_DB], cwd=ROOT, env=clean, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sqlite_same_pragmas_and_mode_for_sqlite_path_and_database_url(tmp_path):
    """O2: SQLITE_PATH and DATABASE_URL=sqlite:///… give the same engine options (WAL, IMMEDIATE,
    busy timeout, synchronous) — the URL form used to lose them."""
    path = str(tmp_path / "site.sqlite3")
    by_path = _settings_db(SQLITE_PATH=path)
    by_url = _settings_db(DATABASE_URL=f"sqlite:///{path}")
    assert by_path["NAME"] == by_url["NAME"] == path
    assert by_path["OPTIONS"] == by_url["OPTIONS"]
    options = by_url["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"] and "busy_timeout=" in options["init_command"]
    assert "synchronous=NORMAL" in options["init_command"]


def test_sqlite_database_url_file_really_runs_in_wal_with_busy_timeout(tmp_path):
    """O2: the pragmas are applied on a real connection opened through DATABASE_URL."""
    code = ("import django; django.setup(); from django.db import connection; c = connection.cursor();"
            "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('PRAGMA busy_timeout').fetchone()[0])")
    env = {k: v for k, v in os.environ.items() if k not in {"SQLITE_PATH"}}
    env.update(DJANGO_SETTINGS_MODULE="salesops.settings", DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["wal", "20000"]


def test_postgres_statement_and_lock_timeouts_below_gunicorn_timeout():
    """O2: PostgreSQL cuts a statement or a lock wait before gunicorn kills the worker; env-tunable."""
    db = _settings_db(DATABASE_URL="postgres://u:p@db.example:5432/salesops", GUNICORN_TIMEOUT="30")
    assert "statement_timeout=25000" in db["OPTIONS"]["options"] and "lock_timeout=10000" in db["OPTIONS"]["options"]
    assert db["CONN_HEALTH_CHECKS"] is True and db["CONN_MAX_AGE"] == 60
    db = _settings_db(DATABASE_URL="postgres://u:p@db.example/salesops", PG_STATEMENT_TIMEOUT_MS="5000", PG_LOCK_TIMEOUT_MS="2000")
    assert "statement_timeout=5000" in db["OPTIONS"]["options"] and "lock_timeout=2000" in db["OPTIONS"]["options"]


def test_serve_refuses_without_secret_key_or_allowed_hosts():
    """O3: production mode does not start with a missing/development SECRET_KEY or no ALLOWED_HOSTS."""
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    done = subprocess.run([sys.executable, "-m", "salesops.opstools.supervise"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "SECRET_KEY is not set" in done.stderr and "ALLOWED_HOSTS is not set" in done.stderr
    assert supervise.preflight({"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "crm.example.com"}) == []


def test_supervisor_stops_the_others_and_exits_non_zero_when_a_child_dies():
    """O3: one child dying takes the unit down (non-zero) so the orchestrator restarts it; the
    long-running sibling gets SIGTERM and is reaped."""
    env = dict(os.environ)
    children = {
        "web": ([sys.executable, "-c", "import time; time.sleep(60)"], env),
        "worker": ([sys.executable, "-c", "import sys, time; time.sleep(0.5); sys.exit(3)"], env),
    }
    runner = supervise.Supervisor(children, grace=10)
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        code = runner.run()
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert code == 3
    assert runner.running["web"].returncode is not None  # stopped, not orphaned


def test_compose_file_describes_the_scaled_out_layout():
    """O3: compose.yaml parses and has PostgreSQL, Redis, a one-shot migrate, web, worker and one
    scheduler; app containers wait for the migration and share media; no SECRET_KEY default.
    (docker cannot run here: this is a structural check, not `docker compose config`.)"""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "scheduler"} <= set(services)
    for name in ("web", "worker", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "media:/data/media" in services[name]["volumes"]
        assert services[name]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["environment"]["REDIS_URL"].startswith("redis://")
    assert "--processes" in services["web"]["command"] and "web" in services["web"]["command"]
    assert "migrate" in " ".join(services["migrate"]["command"])
    assert services["worker"]["environment"]["Q_WORKERS"]
    assert "collectstatic" in (ROOT / "Dockerfile").read_text()
