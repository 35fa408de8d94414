"""Ship the template library (医疗行业拜访包, 方案演示拜访包, 院长拜访包) and the transcription
retry schedule, so `migrate` alone gives a working visits app."""

from django.db import migrations


def forwards(apps, schema_editor):
    from visits.library import install_library

    install_library(apps.get_model("visits", "VisitTemplate"), apps.get_model("visits", "TemplateModule"))
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="visits.retry_transcriptions",
        defaults={"func": "visits.tasks.retry_due_transcriptions", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="visits.retry_transcriptions").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("visits", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
