"""K2: text search tables and indexes — SQLite FTS5 (trigram) with sync triggers, or PostgreSQL
pg_trgm (CREATE EXTENSION: a trusted extension, so the database owner may create it) with GIN
indexes. Each backend's branch is a no-op on the other. See leads/search.py."""

from django.db import migrations


def forwards(apps, schema_editor):
    from salesops.search import ensure_search_index

    ensure_search_index(schema_editor.connection)


def backwards(apps, schema_editor):
    from salesops.search import SEARCHABLE

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for spec in SEARCHABLE.values():
            if connection.vendor == "sqlite":
                for suffix in ("ai", "au", "ad"):
                    cursor.execute(f'DROP TRIGGER IF EXISTS "{spec.fts}_{suffix}"')
                cursor.execute(f'DROP TABLE IF EXISTS "{spec.fts}"')
            elif connection.vendor == "postgresql":
                cursor.execute(f'DROP INDEX IF EXISTS "{spec.table}_trgm"')


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0010_lead_queue_rank_and_closed_index"),
        ("salesops", "0008_user_and_rep_m2m_history"),
    ]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
