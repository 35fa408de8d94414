"""O6 — production smoke test, run by `.ci/run` on PostgreSQL + Redis:

1. `make serve` (DEBUG off, WEB_CONCURRENCY=2, Q_WORKERS=2) on a loopback port, from the database
   DATABASE_URL names; wait for /healthz;
2. the demo company (history shortened) seeded next to the running site;
3. a burst of concurrent signed intakes: every answer 2xx, every lead in the database, every rep's
   open load exact, the qcluster workers delivered notifications;
4. the crawl over real HTTP as director, supervisor, rep and ops: no 5xx;
5. SIGTERM: the supervisor stops gunicorn, qcluster and the scheduler cleanly (exit 0).

    DATABASE_URL=postgres://… REDIS_URL=redis://… python -m salesops.opstools.smoke
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_c21va2UtdGVzdC1zZWNyZXQta2V5LTAxMjM0NTY3ODk="
USERS = ["director", "sup1", "rep01", "ops"]
PASSWORD = "salesops-demo"
SEED = (
    "import django; django.setup()\n"
    "import leads.demo, visits.demo\n"
    "leads.demo.DAYS = 20; visits.demo.DAYS = 14\n"
    "from django.core.management import call_command\n"
    "call_command('seed_demo', '--if-empty')\n"
)
# The scheduler queues the per-minute sweeps; the qcluster workers must have run some since start.
CHECK = (
    "import django, json, sys, time, datetime; django.setup()\n"
    "from django_q.models import Success\n"
    "since = datetime.datetime.fromtimestamp(float(sys.argv[1]), datetime.timezone.utc)\n"
    "deadline = time.time() + 90\n"
    "while time.time() < deadline and not Success.objects.filter(stopped__gte=since).exists(): time.sleep(2)\n"
    "print(json.dumps({'tasks_done': Success.objects.filter(stopped__gte=since).count()}))\n"
)


def log(message: str) -> None:
    print(f"[smoke] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(base: str) -> bool:
    try:
        request = urllib.request.Request(base + "/healthz", headers={"X-Forwarded-Proto": "https"})
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> int:
    from salesops.opstools import crawl
    from salesops.opstools.intake_load import fire

    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        log("DATABASE_URL must name PostgreSQL")
        return 2
    workdir = tempfile.mkdtemp(prefix="salesops-smoke-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "Q_WORKERS": "2",
        "LEAD_INTAKE_SECRETS": SECRET,
        "STATIC_ROOT": os.path.join(workdir, "static"),
        "MEDIA_ROOT": os.path.join(workdir, "media"),
        "GUNICORN_ACCESS_LOG": os.path.join(workdir, "access.log"),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "salesops.settings",
    }
    env.pop("SALESOPS_TESTING", None)
    serve_log = open(os.path.join(workdir, "serve.log"), "w")
    started, started_at = time.monotonic(), time.time()
    log(f"make serve on {base} (logs in {workdir})")
    command = os.environ.get("SMOKE_SERVE", "make --no-print-directory serve").split()
    serve = subprocess.Popen(command, cwd=ROOT, env=env, stdout=serve_log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    failures: list[str] = []
    try:
        deadline = time.monotonic() + 600
        while not healthy(base):
            if serve.poll() is not None:
                raise SystemExit(f"make serve exited with {serve.returncode}:\n" + Path(workdir, "serve.log").read_text()[-4000:])
            if time.monotonic() > deadline:
                raise SystemExit("make serve did not become healthy within 10 minutes")
            time.sleep(1)
        log(f"healthy after {time.monotonic() - started:.0f}s; seeding the demo company")
        subprocess.run([sys.executable, "-c", SEED], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

        t0 = time.monotonic()
        run = fire(base, SECRET, 16, per_client=4, run_tag=5)
        ids = [r.lead_id for r in run.ok if r.lead_id]
        log(f"burst: {len(run.ok)}/{len(run.results)} answered 2xx from 16 clients in {time.monotonic() - t0:.1f}s "
            f"(p50 {run.p50() * 1000:.0f} ms, p95 {run.percentile(0.95) * 1000:.0f} ms)")
        for result in run.failed:
            failures.append(f"intake answered {result.status}: {result.error[:200]}")
        ids_file = os.path.join(workdir, "ids.json")
        Path(ids_file).write_text(json.dumps(ids))
        verify = subprocess.run([sys.executable, "-m", "tests.bench.load_intake", "_verify", ids_file], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        if verify.returncode != 0:
            failures.append(f"verification failed: {verify.stderr[-2000:]}")
        else:
            check = json.loads(verify.stdout.strip().splitlines()[-1])
            log(f"leads missing {len(check['missing'])}, open-load mismatches {len(check['open_mismatch'])}, "
                f"decisions that saw a stale open count {check['duplicate_open_seen']}")
            if check["missing"]:
                failures.append(f"leads answered 2xx but missing: {check['missing'][:10]}")
            if check["open_mismatch"]:
                failures.append(f"open load not exact: {check['open_mismatch']}")
        worker = subprocess.run([sys.executable, "-c", CHECK, str(started_at)], cwd=ROOT, env=env, capture_output=True, text=True)
        done = json.loads(worker.stdout.strip().splitlines()[-1]) if worker.returncode == 0 else {"tasks_done": 0}
        log(f"qcluster: {done['tasks_done']} scheduled tasks run by the workers since start")
        if not done["tasks_done"]:
            failures.append("the scheduler and qcluster workers ran no task")

        t0 = time.monotonic()
        code = crawl.main([base, *(f"{user}:{PASSWORD}" for user in USERS), "--max-pages", os.environ.get("SMOKE_CRAWL_PAGES", "120")])
        log(f"crawl over HTTP in {time.monotonic() - t0:.0f}s")
        if code:
            failures.append("the crawl found 5xx pages (listed above)")
    finally:
        log("SIGTERM to make serve")
        try:
            os.killpg(serve.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            failures.append("make serve did not stop within 60 s of SIGTERM")
            os.killpg(serve.pid, signal.SIGKILL)
        serve_log.close()
    text = Path(workdir, "serve.log").read_text()
    for name in ("web", "worker", "scheduler"):
        if f"[serve] {name} exited with 0" not in text:
            failures.append(f"{name} did not exit cleanly:\n{text[-3000:]}")
    if healthy(base):
        failures.append("the site still answers after SIGTERM")
    log(f"done in {time.monotonic() - started:.0f}s")
    for failure in failures:
        log(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
