"""python manage.py run_scheduler — the django-q scheduler on its own (O3).

qcluster also schedules unless Q_SCHEDULER=0; production runs qcluster workers with it switched off
and exactly this one loop per site (`make serve` and compose.yaml do), so adding worker processes or
hosts never adds schedulers. Two schedulers would still not double-run a task (the scheduler locks
due rows with SELECT … FOR UPDATE), only waste queries. SIGTERM/SIGINT end it between rounds.
"""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections


class Command(BaseCommand):
    help = "运行定时任务调度（把到期的 django-q 计划任务放入队列）。"

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=15.0, help="seconds between rounds (default 15)")
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args, interval: float, once: bool, **options):
        from django_q.brokers import get_broker
        from django_q.scheduler import scheduler

        stop = {"now": False}

        def on_signal(signum, _frame):
            stop["now"] = True

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        broker = get_broker()
        self.stdout.write(f"scheduler: every {interval:.0f}s, broker {broker.__class__.__name__}")
        while not stop["now"]:
            close_old_connections()
            try:
                scheduler(broker=broker)
            except Exception as exc:  # noqa: BLE001 - a failed round is logged; the next one retries
                self.stderr.write(f"scheduler round failed: {exc.__class__.__name__}: {exc}")
            if once:
                break
            deadline = time.monotonic() + interval
            while not stop["now"] and time.monotonic() < deadline:
                time.sleep(0.2)
        close_old_connections()
