"""R6: the database cache table that holds the shared rate-limit counters (settings CACHES["ratelimit"]).

`migrate` does not create cache tables; `createcachetable` does, and is a no-op when the table
exists or the cache is Redis.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("salesops", "0006_merge_wave2c")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
