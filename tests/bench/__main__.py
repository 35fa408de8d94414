"""`make bench`: every tests/bench/bench_*.py module's `run(report)` against a throwaway SQLite
database (or DATABASE_URL). Figures are printed; nothing is asserted — benchmarks measure."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def section(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def line(self, name: str, value: str, note: str = "") -> None:
        self.rows.append((name, value, note))
        print(f"  {name:<58} {value:>18}  {note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("only", nargs="*", help="bench module names, e.g. bench_leads")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    workdir = tempfile.mkdtemp(prefix="salesops-bench-")
    os.environ.setdefault("SQLITE_PATH", os.path.join(workdir, "bench.sqlite3"))
    os.environ.setdefault("MEDIA_ROOT", os.path.join(workdir, "media"))
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("Q_SYNC", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesops.settings")
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"database: {os.environ.get('DATABASE_URL') or os.environ['SQLITE_PATH']} (migrated in {time.perf_counter() - started:.1f}s)")
    report = Report()
    package = importlib.import_module("tests.bench")
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not module_info.name.startswith("bench_") or (args.only and module_info.name not in args.only):
            continue
        module = importlib.import_module(f"tests.bench.{module_info.name}")
        module.run(report)


if __name__ == "__main__":
    main()
