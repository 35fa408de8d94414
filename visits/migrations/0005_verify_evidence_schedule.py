"""R10: re-hash every evidence file weekly in qcluster (alerts ops on a mismatch or a missing
file) and sweep part files left by uploads whose transaction never committed."""

from django.db import migrations

NAME = "visits.verify_evidence"


def forwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME, defaults={"func": "visits.storage.verify_evidence_task", "schedule_type": "W", "repeats": -1}
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("visits", "0004_default_evidence_policy_and_open_task_snapshots")]

    operations = [migrations.RunPython(forwards, backwards)]
