"""`make serve`: production mode in one command, one supervisor process.

    python -m salesops.opstools.supervise [--processes web,worker,scheduler] [--no-prepare]

Prepares (unless --no-prepare): `check --deploy` (fails on warnings), `migrate`, `collectstatic`.
Then starts its children and watches them:

- web        gunicorn salesops.wsgi — WEB_CONCURRENCY workers (default 2 × cores + 1, at most 8) on
             BIND (default 0.0.0.0:8000), GUNICORN_TIMEOUT seconds per request (default 30);
- worker     `manage.py qcluster` with Q_WORKERS processes and its scheduler switched off;
- delivery   `manage.py qcluster` of the outbox delivery cluster (Q_CLUSTER_NAME=salesops-delivery, R3);
- scheduler  `manage.py run_scheduler`: the one loop that turns due django-q schedules into tasks.

SIGTERM/SIGINT are forwarded to every child; the supervisor waits up to SERVE_GRACE seconds (30)
for them, then kills what is left. If any child exits on its own, the others are stopped and the
supervisor exits non-zero — a container orchestrator or systemd then restarts the whole unit.
DEBUG is forced off; a missing or development SECRET_KEY or an empty ALLOWED_HOSTS is refused.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ("web", "worker", "delivery", "scheduler")
Q_TIMEOUT_SECONDS = 120  # Q_CLUSTER["timeout"] in settings


def log(message: str) -> None:
    print(f"[serve] {message}", file=sys.stderr, flush=True)


def preflight(env: dict) -> list[str]:
    problems = []
    key = env.get("SECRET_KEY", "")
    if not key or key.startswith("dev-only-insecure"):
        problems.append("SECRET_KEY is not set. Generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))'")
    if not env.get("ALLOWED_HOSTS", "").strip():
        problems.append("ALLOWED_HOSTS is not set (comma-separated host names the site answers to, e.g. crm.example.com)")
    return problems


def default_web_concurrency() -> int:
    return max(2, min(8, 2 * (os.cpu_count() or 1) + 1))


def commands(env: dict, processes: list[str]) -> dict[str, tuple[list[str], dict]]:
    python = sys.executable
    web_timeout = env.get("GUNICORN_TIMEOUT", "30")
    background = {**env, "Q_SCHEDULER": "0"}
    # Background jobs may run longer than a request, but still below django-q's task timeout.
    background.setdefault("PG_STATEMENT_TIMEOUT_MS", str((Q_TIMEOUT_SECONDS - 5) * 1000))
    table = {
        "web": (
            [python, "-m", "gunicorn", "salesops.wsgi",
             "--workers", env.get("WEB_CONCURRENCY", str(default_web_concurrency())),
             "--bind", env.get("BIND", "0.0.0.0:8000"),
             "--timeout", web_timeout, "--graceful-timeout", "20",
             "--max-requests", env.get("GUNICORN_MAX_REQUESTS", "2000"), "--max-requests-jitter", "200",
             "--access-logfile", env.get("GUNICORN_ACCESS_LOG", "-"),
             "--forwarded-allow-ips", env.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
             "--worker-tmp-dir", env.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")],
            env,
        ),
        "worker": ([python, "manage.py", "qcluster"], background),
        # R3: outbox deliveries on their own cluster, so a hung channel never delays escalation.
        "delivery": ([python, "manage.py", "qcluster"], {**background, "Q_CLUSTER_NAME": background.get("Q_DELIVERY_CLUSTER", "salesops-delivery")}),
        "scheduler": ([python, "manage.py", "run_scheduler"], {**background, "Q_SCHEDULER": "1"}),
    }
    return {name: table[name] for name in processes}


def prepare(env: dict) -> None:
    python = sys.executable
    steps = [
        ([python, "manage.py", "check", "--deploy", "--fail-level", env.get("DEPLOY_CHECK_FAIL_LEVEL", "WARNING")], env),
        # Migrations may rewrite big tables: no statement timeout for them (the lock timeout stays).
        ([python, "manage.py", "migrate", "--noinput"], {**env, "PG_STATEMENT_TIMEOUT_MS": "0"}),
        ([python, "manage.py", "collectstatic", "--noinput", "-v", "0"], env),
    ]
    for argv, step_env in steps:
        log(" ".join(argv[1:]))
        done = subprocess.run(argv, cwd=ROOT, env=step_env)
        if done.returncode != 0:
            log(f"{' '.join(argv[1:3])} failed (exit {done.returncode}); not starting")
            sys.exit(done.returncode or 1)


class Supervisor:
    def __init__(self, children: dict[str, tuple[list[str], dict]], grace: float) -> None:
        self.spec = children
        self.grace = grace
        self.running: dict[str, subprocess.Popen] = {}
        self.stopping = False
        self.exit_code = 0

    def start(self) -> None:
        for name, (argv, env) in self.spec.items():
            # Own process group: a Ctrl-C in the terminal reaches the supervisor, which forwards it
            # once, instead of every child receiving it twice.
            self.running[name] = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
            log(f"started {name} (pid {self.running[name].pid}): {' '.join(argv[1:4])} …")

    def on_signal(self, signum, _frame) -> None:
        if not self.stopping:
            log(f"received {signal.Signals(signum).name}: stopping children")
        self.stopping = True

    def stop_all(self) -> None:
        for name, process in self.running.items():
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + self.grace
        for name, process in self.running.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} (pid {process.pid}) did not stop within {self.grace:.0f}s: killing its process group")
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
            log(f"{name} exited with {process.returncode}")

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.start()
        while not self.stopping:
            for name, process in self.running.items():
                code = process.poll()
                if code is not None:
                    log(f"{name} (pid {process.pid}) exited unexpectedly with {code}: stopping the others")
                    self.exit_code = code or 1
                    self.stopping = True
                    break
            time.sleep(0.5)
        self.stop_all()
        return self.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SalesOps production supervisor")
    parser.add_argument("--processes", default=os.environ.get("SERVE_PROCESSES", ",".join(PROCESSES)),
                        help="comma-separated subset of web,worker,scheduler (default: all three)")
    parser.add_argument("--no-prepare", action="store_true", help="skip check --deploy, migrate and collectstatic")
    args = parser.parse_args(argv)
    processes = [p.strip() for p in args.processes.split(",") if p.strip()]
    unknown = sorted(set(processes) - set(PROCESSES))
    if unknown or not processes:
        parser.error(f"unknown process {unknown}; choose from {', '.join(PROCESSES)}")
    env = {**os.environ, "DEBUG": "0"}
    env.pop("SALESOPS_TESTING", None)
    env.setdefault("DJANGO_SETTINGS_MODULE", "salesops.settings")
    problems = preflight(env)
    if problems:
        for problem in problems:
            log(f"refusing to start: {problem}")
        return 2
    if not args.no_prepare:
        prepare(env)
    return Supervisor(commands(env, processes), float(env.get("SERVE_GRACE", "30"))).run()


if __name__ == "__main__":
    sys.exit(main())
