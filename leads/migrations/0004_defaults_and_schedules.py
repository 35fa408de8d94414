"""Defaults a fresh installation needs: the live assignment rules (v1), the notification channels,
and the two per-minute schedules `make run`'s qcluster runs with no extra step."""

from django.db import migrations
from django.utils import timezone

CHANNEL_DEFAULTS = [
    # channel, on_assignment, on_escalation
    ("in_app", True, True),
    ("wecom_app", True, True),
    ("wecom_robot", True, True),
    ("email", True, True),
    ("call_robot", False, True),
]
SCHEDULES = [
    ("leads.sweep", "leads.tasks.sweep", "超时升级 + 待分配线索重试"),
    ("leads.deliver_notifications", "salesops.tasks.deliver_due", "通知重试（退避到期）"),
]


def forwards(apps, schema_editor):
    AssignmentRules = apps.get_model("leads", "AssignmentRules")
    NotifyChannel = apps.get_model("leads", "NotifyChannel")
    Schedule = apps.get_model("django_q", "Schedule")
    if not AssignmentRules.objects.filter(status="live").exists():
        AssignmentRules.objects.get_or_create(
            version=1, defaults={"status": "live", "published_at": timezone.now(), "note": "默认规则"}
        )
    for channel, on_assignment, on_escalation in CHANNEL_DEFAULTS:
        NotifyChannel.objects.get_or_create(
            channel=channel, defaults={"enabled": True, "on_assignment": on_assignment, "on_escalation": on_escalation}
        )
    for name, func, _label in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1, "next_run": timezone.now()},
        )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[name for name, _f, _l in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_intake_assignment_contacts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
