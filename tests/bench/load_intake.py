"""O4 — intake throughput under gunicorn: `make bench` (or `.venv/bin/python -m tests.bench.load_intake`).

For each database (a fresh SQLite file always; a fresh PostgreSQL database next to DATABASE_URL when
it names PostgreSQL) the bench migrates, seeds reps, starts gunicorn (DEBUG off, `--workers`) on a
loopback port, fires signed intakes from 1/4/16 concurrent clients for `--seconds` each and prints
req/s, p50/p95 and lost requests (answered non-2xx, or a 2xx whose lead is not in the database).
Afterwards every rep's open load is checked: the workload the engine balances equals the count of the
rep's open leads, no rep is over capacity, and no two auto decisions for one rep saw the same open
count (which is what a double-counting race looks like). Bounded: 3 × seconds per database.

    .venv/bin/python -m tests.bench.load_intake [--seconds 10] [--workers 4] [--clients 1,4,16] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_bG9hZC1iZW5jaC1zZWNyZXQta2V5LTAxMjM0NTY3ODk="
REPS = 40
PRODUCTS = [f"LOAD-{line}-{n}" for line in ("joint", "spine", "trauma", "sports") for n in range(2)]
HOSPITALS = [f"压测医院{n}" for n in range(12)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(database_url: str, workdir: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.bench.load_settings",
        DATABASE_URL=database_url,
        DEBUG="0",
        SALESOPS_TESTING="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LEAD_INTAKE_SECRETS=SECRET,
        MEDIA_ROOT=os.path.join(workdir, "media"),
        STATIC_ROOT=os.path.join(workdir, "static"),
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.pop("SQLITE_PATH", None)
    return env


# --- run inside a child process with the bench's environment --------------------------------------


def _django():
    import django

    django.setup()


def seed() -> None:
    """Reps with room to spare (nobody fills up during the run), product lines, hospitals."""
    _django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from leads.models import AssignmentRules
    from salesops.models import Hospital, HospitalGrade, Product, ProductLine, Rep, Role, Team

    User = get_user_model()
    lines = {code: ProductLine.objects.get_or_create(code=code, defaults={"name": code})[0] for code in ("joint", "spine", "trauma", "sports")}
    for model in PRODUCTS:
        Product.objects.get_or_create(model_number=model, defaults={"name": model, "line": lines[model.split("-")[1]], "list_price": 1000})
    grades = [HospitalGrade.GRADE_3A, HospitalGrade.GRADE_2A, HospitalGrade.PRIVATE]
    for index, name in enumerate(HOSPITALS):
        Hospital.objects.get_or_create(name=name, defaults={"grade": grades[index % 3], "city": "杭州"})
    teams = [Team.objects.get_or_create(name=f"压测团队{index}")[0] for index in range(4)]
    password = make_password(None)
    line_list = list(lines.values())
    for index in range(REPS):
        user = User.objects.create(username=f"load_rep_{index:02d}", first_name=f"压测{index}", password=password)
        rep = Rep.objects.create(user=user, role=Role.REP, team=teams[index % 4], grades_served=["3A", "2A", "private"][: 1 + index % 3],
                                 capacity=1000, on_duty=True, wecom_userid=user.username)
        rep.product_lines.set(line_list[index % 4 : index % 4 + 2])
    AssignmentRules.live()
    print(json.dumps({"reps": REPS}))


def verify(ids_file: str) -> None:
    """Prints {"missing": [...], "open_mismatch": {...}, "over_capacity": [...], "duplicate_open_seen": n, ...}."""
    _django()
    from django.db.models import Count

    from leads import assignment
    from leads.models import AssignmentDecision, Lead
    from salesops.models import Rep

    ids = json.loads(Path(ids_file).read_text())
    present = set(Lead.objects.filter(pk__in=ids).values_list("pk", flat=True))
    open_statuses = [str(s) for s in assignment.OPEN_LEAD_STATUSES]
    counted = dict(
        Lead.objects.filter(status__in=open_statuses, assignee__isnull=False).values_list("assignee").annotate(n=Count("pk")).values_list("assignee", "n")
    )
    engine = assignment.open_loads()
    mismatch = {uid: {"engine": engine.get(uid, 0), "leads": counted.get(uid, 0)} for uid in set(engine) | set(counted) if engine.get(uid, 0) != counted.get(uid, 0)}
    # A per-rep counter column (if the intake restructure adds one) must agree too.
    counter_fields = [f.name for f in Rep._meta.concrete_fields if "open" in f.name and f.get_internal_type().endswith("IntegerField")]
    for rep in Rep.objects.filter(role="rep"):
        for name in counter_fields:
            if getattr(rep, name) != counted.get(rep.user_id, 0):
                mismatch[f"{rep.user_id}.{name}"] = {"counter": getattr(rep, name), "leads": counted.get(rep.user_id, 0)}
    capacity = dict(Rep.objects.values_list("user_id", "capacity"))
    over = [uid for uid, n in counted.items() if n > capacity.get(uid, 0)]
    seen: dict[int, list[int]] = {}
    for chosen, candidates in AssignmentDecision.objects.filter(kind="auto", chosen__isnull=False).values_list("chosen", "candidates"):
        for row in candidates or []:
            if row.get("user_id") == chosen and "open" in row:
                seen.setdefault(chosen, []).append(row["open"])
    duplicates = sum(len(v) - len(set(v)) for v in seen.values())
    unassigned = Lead.objects.filter(pk__in=ids, assignee__isnull=True).count()
    print(json.dumps({"missing": sorted(set(ids) - present), "open_mismatch": mismatch, "over_capacity": over,
                      "duplicate_open_seen": duplicates, "unassigned": unassigned, "counter_fields": counter_fields,
                      "leads": Lead.objects.count()}))


# --- the driver -----------------------------------------------------------------------------------


def run_child(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            request = urllib.request.Request(url + "/healthz", headers={"X-Forwarded-Proto": "https"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer /healthz in time")


def bench_database(label: str, database_url: str, args, workdir: str) -> list[dict]:
    from salesops.opstools.intake_load import fire

    env = child_env(database_url, workdir)
    run_child(env, "manage.py", "migrate", "--noinput", "-v", "0")
    run_child(env, "-m", "tests.bench.load_intake", "_seed")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(workdir, f"gunicorn-{label}.log"), "w")
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "salesops.wsgi", "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
         "--timeout", "60", "--access-logfile", "-" if args.access_log else "/dev/null"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    rows = []
    try:
        wait_healthy(base, gunicorn)
        fire(base, SECRET, 2, per_client=5, run_tag=9, products=PRODUCTS, hospitals=HOSPITALS)  # warm every worker
        ids: list[int] = []
        for tag, clients in enumerate(args.clients):
            run = fire(base, SECRET, clients, seconds=args.seconds, run_tag=tag, products=PRODUCTS, hospitals=HOSPITALS)
            ids.extend(r.lead_id for r in run.ok if r.lead_id)
            statuses: dict[int, int] = {}
            for r in run.failed:
                statuses[r.status] = statuses.get(r.status, 0) + 1
            rows.append({"db": label, "clients": clients, "requests": len(run.results), "rate": run.rate(),
                         "p50": run.p50() * 1000, "p95": run.percentile(0.95) * 1000, "non2xx": len(run.failed),
                         "statuses": statuses, "sample_error": run.failed[0].error[:200] if run.failed else ""})
            print(f"  {label:<10} {clients:>3} clients: {len(run.ok)} ok / {len(run.failed)} failed in {run.wall_seconds:.1f}s", flush=True)
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
        log.close()
    ids_file = os.path.join(workdir, f"ids-{label}.json")
    Path(ids_file).write_text(json.dumps(ids))
    check = json.loads(run_child(env, "-m", "tests.bench.load_intake", "_verify", ids_file).strip().splitlines()[-1])
    for row in rows:
        row["check"] = check
    return rows


def postgres_fresh(database_url: str) -> tuple[str, callable]:
    """A throwaway database next to the one DATABASE_URL names (needs CREATEDB); dropped afterwards."""
    import psycopg

    parts = urlsplit(database_url)
    name = f"salesops_load_{os.getpid()}"
    admin = psycopg.connect(database_url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()

    def drop() -> None:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path="/" + name)), drop


def print_table(rows: list[dict]) -> None:
    print("\n| database | clients | req/s | p50 ms | p95 ms | lost | open loads |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        check = row["check"]
        lost = row["non2xx"] + len(check["missing"])
        exact = not check["open_mismatch"] and not check["over_capacity"] and not check["duplicate_open_seen"]
        note = "exact" if exact else f"MISMATCH {check['open_mismatch'] or ''} over={check['over_capacity']} dup={check['duplicate_open_seen']}"
        print(f"| {row['db']} | {row['clients']} | {row['rate']:.1f} | {row['p50']:.0f} | {row['p95']:.0f} | {lost} | {note} |")
    for row in rows:
        if row["non2xx"]:
            print(f"  {row['db']} {row['clients']} clients non-2xx {row['statuses']}: {row['sample_error']}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_seed":
        return seed()
    if len(sys.argv) > 2 and sys.argv[1] == "_verify":
        return verify(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOAD_SECONDS", "10")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("LOAD_WORKERS", "4")))
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    args.workers = max(1, min(args.workers, 8))
    args.seconds = max(1.0, min(args.seconds, 120.0))
    sys.path.insert(0, str(ROOT))
    workdir = tempfile.mkdtemp(prefix="salesops-load-")
    print(f"intake load: gunicorn --workers {args.workers}, {args.seconds:.0f}s per level, clients {args.clients}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    try:
        rows += bench_database("sqlite", "sqlite:///" + os.path.join(workdir, "load.sqlite3"), args, workdir)
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith(("postgres://", "postgresql://")) and not args.sqlite_only:
            fresh, drop = postgres_fresh(url)
            try:
                rows += bench_database("postgresql", fresh, args, workdir)
            finally:
                drop()
    finally:
        print_table(rows)
        shutil.rmtree(workdir, ignore_errors=True)
    if any(r["non2xx"] or r["check"]["missing"] or r["check"]["open_mismatch"] or r["check"]["over_capacity"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
