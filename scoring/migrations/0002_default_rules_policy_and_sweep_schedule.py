"""Ship the five behaviours' default points, a default bonus policy and the every-minute sweep."""

from django.db import migrations

from scoring.defaults import SWEEP_SCHEDULE, install_defaults, install_schedule


def forwards(apps, schema_editor):
    install_defaults(apps.get_model("scoring", "ContributionRule"), apps.get_model("scoring", "BonusPolicy"))
    install_schedule(apps.get_model("django_q", "Schedule"))


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
