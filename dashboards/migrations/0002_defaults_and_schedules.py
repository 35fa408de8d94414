"""The requirement's KPI thresholds (D2) and the three dashboards schedules `make run`'s qcluster
runs with no extra step: anomaly evaluation every morning, the daily report, the weekly report."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations
from django.utils import timezone

THRESHOLDS = [
    # kpi, healthy, trigger, run length, window
    ("lead_timeliness", Decimal("120"), Decimal("180"), 3, "day"),
    ("action_fullness", Decimal("4.2"), Decimal("3"), 5, "working_day"),
    ("collaboration_density", Decimal("2.1"), Decimal("1.8"), 2, "week"),
]
# name, function, schedule type, local time, weekday (None = every day)
SCHEDULES = [
    ("dashboards.evaluate_anomalies", "dashboards.tasks.evaluate_anomalies_job", "D", time(6, 30), None),
    ("dashboards.daily_report", "dashboards.tasks.daily_report_job", "D", time(7, 0), None),
    ("dashboards.weekly_report", "dashboards.tasks.weekly_report_job", "W", time(7, 30), 0),
]


def _next_run(at: time, weekday: int | None) -> datetime:
    zone = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now().astimezone(zone)
    candidate = datetime.combine(now.date(), at, tzinfo=zone)
    while candidate <= now or (weekday is not None and candidate.weekday() != weekday):
        candidate += timedelta(days=1)
    return candidate


def forwards(apps, schema_editor):
    Threshold = apps.get_model("dashboards", "Threshold")
    Schedule = apps.get_model("django_q", "Schedule")
    for kpi, healthy, trigger, run_length, window in THRESHOLDS:
        Threshold.objects.get_or_create(
            kpi=kpi,
            defaults={"healthy_value": healthy, "trigger_value": trigger, "run_length": run_length, "window": window},
        )
    for name, func, schedule_type, at, weekday in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": schedule_type, "repeats": -1, "next_run": _next_run(at, weekday)},
        )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
