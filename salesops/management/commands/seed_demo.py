"""python manage.py seed_demo — the demo company (A5). Idempotent: a second run adds nothing."""

from __future__ import annotations

import random
from importlib import import_module

from django.core.management.base import BaseCommand

from salesops.demo import DEMO_PASSWORD, DemoContext, seed_master_data

# Dependency order: each app reads what the earlier ones wrote.
DEMO_MODULES = ("leads.demo", "leads.cash.demo", "visits.demo", "scoring.demo", "dashboards.demo")


class Command(BaseCommand):
    help = "创建演示公司（47 名销售、213 家医院、数月历史）；可重复执行。"

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026, help="random seed (deterministic demo)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the database already has data")

    def handle(self, *args, seed: int, if_empty: bool, **options):
        from salesops.models import Hospital

        if if_empty and Hospital.objects.exists():
            self.stdout.write("数据库已有数据，跳过演示数据。")
            return
        ctx = DemoContext(rng=random.Random(seed), stdout=self.stdout)
        seed_master_data(ctx)
        for module_name in DEMO_MODULES:
            try:
                module = import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                continue
            module.seed(ctx)
        self.stdout.write(self.style.SUCCESS("演示登录（密码均为 %s）：" % DEMO_PASSWORD))
        for label, username in ctx.logins:
            self.stdout.write(f"  {label:<24} {username}")
