"""The shipped configuration: the five behaviours' default points (S1) and a default bonus policy
(S3), both in force from long before any activity. Used by the data migration and by test setups
(a transactional test's flush empties tables a data migration filled)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

BEGINNING = datetime(2000, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
DEFAULT_POINTS = {
    "lead_introduced": 10,
    "needs_diagnosis": 15,
    "solution_demo": 20,
    "dean_visit": 25,
    "payment_push": 30,
}
SWEEP_SCHEDULE = "scoring.sweep"


def install_defaults(rule_model, policy_model) -> None:
    """Idempotent; takes the model classes so a migration can pass its historical models."""
    for behaviour, points in DEFAULT_POINTS.items():
        rule_model.objects.get_or_create(
            behaviour=behaviour, effective_from=BEGINNING, defaults={"points": points, "note": "默认分值"}
        )
    policy_model.objects.get_or_create(
        effective_from=BEGINNING,
        defaults={"name": "默认奖金政策", "basis": "rate", "rate_percent": Decimal("2.0000"), "window_days": 90},
    )


def install_schedule(schedule_model) -> None:
    schedule_model.objects.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={"func": "scoring.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )
