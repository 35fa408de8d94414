"""`manage.py recompute_points [--since DATE] [--verify]` — derive points from the ledger on demand.

Idempotent: it only adds contributions the ledger proves and the table lacks, then creates splits
for won deals that have none. `--verify` compares the stored points with a from-scratch derivation
and exits non-zero on any difference.
"""

from __future__ import annotations

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from scoring.derivation import ledger_differences
from scoring.services import scoring_sweep


def parse_since(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since: not a date or date-time: {value!r} (e.g. 2026-01-01 or 2026-01-01T08:00)")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "从活动台账计算贡献值（幂等），并为新赢单生成奖金分配。"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", help="只处理此时间（Asia/Shanghai）之后发生的动作，例如 2026-01-01")
        parser.add_argument("--verify", action="store_true", help="与从头重算的结果比对，不一致时以非零状态退出")

    def handle(self, *args, since: str | None = None, verify: bool = False, **options) -> None:
        moment = parse_since(since) if since else None
        started = timezone.now()
        result = scoring_sweep(since=moment)
        seconds = (timezone.now() - started).total_seconds()
        self.stdout.write(
            f"贡献值：新增 {result['contributions']} 条；奖金分配：新增 {result['splits']} 条（{seconds:.2f} 秒）"
        )
        if verify:
            differences = ledger_differences(since=moment)
            if any(differences.values()):
                summary = "，".join(f"{name} {len(keys)}" for name, keys in differences.items())
                raise CommandError(f"贡献值与台账重算结果不一致：{summary}")
            self.stdout.write("核对通过：贡献值与从台账重算的结果完全一致。")
