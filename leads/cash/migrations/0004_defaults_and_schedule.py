"""Defaults a fresh installation needs: the settings row, the lost-deal reasons ops start from,
and the daily quote-expiry schedule `make run`'s qcluster runs with no extra step."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import migrations

LOST_REASONS = ["价格过高", "竞品中标", "预算取消或延后", "招标未通过", "产品不满足需求", "关系维护不足", "其他"]
SCHEDULE = ("cash.expire_quotes", "leads.cash.tasks.expire_quotes")


def forwards(apps, schema_editor):
    apps.get_model("cash", "CashSettings").objects.get_or_create(pk=1)
    LostReason = apps.get_model("cash", "LostReason")
    for order, name in enumerate(LOST_REASONS, start=1):
        LostReason.objects.get_or_create(name=name, defaults={"order": order})
    # 00:10 Asia/Shanghai tomorrow, then daily: validity dates end at midnight local time.
    tz = ZoneInfo("Asia/Shanghai")
    next_run = datetime.combine(datetime.now(tz).date() + timedelta(days=1), time(0, 10), tzinfo=tz)
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE[0],
        defaults={"func": SCHEDULE[1], "schedule_type": "D", "repeats": -1, "next_run": next_run},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE[0]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cash", "0003_bankaccount_bankstatement_cashsettings_and_more"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
