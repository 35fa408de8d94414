"""Let a child process (a real qcluster, concurrent web-like workers) see the test database.

PostgreSQL: the child connects to the same test database. SQLite: the test database lives in
memory, so it is copied with SQLite's online backup API into a file the child opens (WAL +
IMMEDIATE transactions, exactly as in production). Either way the child runs without REDIS_URL,
so its broker is the ORM broker in that same database — no other process can steal its tasks."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL", "SQLITE_PATH", "PYTEST_CURRENT_TEST"}}
    env.update({"DJANGO_SETTINGS_MODULE": "salesops.settings", "SALESOPS_TESTING": "1", "Q_SYNC": "0", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"})
    if connection.vendor == "sqlite":
        path = tmp_path / "shared.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        env["SQLITE_PATH"] = str(path)
    else:
        db = connection.settings_dict
        env["DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env.update(extra)
    return env


def read_back(env: dict[str, str], sql: str, params: tuple = ()) -> list[tuple]:
    """Query what the child wrote (the SQLite copy is not the test connection's database)."""
    if "SQLITE_PATH" in env:
        with sqlite3.connect(env["SQLITE_PATH"]) as db:
            return db.execute(sql, params).fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall()


PYTHON = sys.executable
