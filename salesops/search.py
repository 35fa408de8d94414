"""Text search over leads, customers and hospitals (K2): one function, two engines.

- SQLite: an FTS5 table per model with the `trigram` tokenizer (any substring of 3+ characters,
  Chinese included, is an index lookup), kept in step by triggers on the model's table.
- PostgreSQL: `pg_trgm` GIN indexes on the same searchable text, queried with ILIKE.

Lives in salesops (customers and hospitals are here; leads are named by table only, so nothing
imports upwards). `search(model, query)` returns a queryset of the matching rows' ids, to use as `pk__in=`. The
triggers, FTS tables and indexes are (re)created idempotently by `ensure_search_index` — from the
migration and after every `migrate` (SQLite rebuilds a table on many ALTERs, and dropping the old
table drops its triggers: a later migration must not silently stop the index from following).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL


@dataclass(frozen=True)
class Searchable:
    table: str
    # The searchable text of one row, as SQL over the row's columns (prefix "{row}").
    body: str
    columns: tuple[str, ...]  # the columns the text depends on (the update trigger's OF list)

    @property
    def fts(self) -> str:
        return f"{self.table}_search"

    def text(self, row: str = "") -> str:
        return self.body.format(row=f"{row}." if row else "")


SEARCHABLE: dict[str, Searchable] = {
    "leads.lead": Searchable(
        "leads_lead",
        "coalesce({row}contact_name, '') || ' ' || coalesce({row}hospital_name, '') || ' ' || coalesce({row}phone, '')",
        ("contact_name", "hospital_name", "phone"),
    ),
    "salesops.customer": Searchable(
        "salesops_customer",
        "coalesce({row}name, '') || ' ' || coalesce({row}phone, '')",
        ("name", "phone"),
    ),
    "salesops.hospital": Searchable(
        "salesops_hospital",
        "coalesce({row}name, '') || ' ' || coalesce({row}city, '') || ' ' || coalesce({row}address, '')",
        ("name", "city", "address"),
    ),
}
MAX_QUERY_CHARS = 100


def _spec(model: type[Model]) -> Searchable:
    return SEARCHABLE[model._meta.label_lower]


def _like_pattern(query: str) -> str:
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(model: type[Model], query: str, *, using: str = "default") -> QuerySet:
    """Ids of `model` rows whose searchable text contains `query` (case-insensitive for Latin
    letters). Lead: contact name, hospital (as typed), phone. Customer: name, phone. Hospital:
    name, city, address."""
    spec = _spec(model)
    # Control characters (a NUL ends an FTS5 string: "unterminated string") are not text to find.
    query = " ".join("".join(ch if ch.isprintable() else " " for ch in query).split())[:MAX_QUERY_CHARS]
    connection = connections[using]
    manager = model._default_manager.using(using)
    if not query:
        return manager.none().values("pk")
    if connection.vendor == "sqlite":
        if len(query) >= 3:  # a trigram phrase: an index lookup, substrings in any script
            phrase = '"' + query.replace('"', '""') + '"'
            ids = RawSQL(f'SELECT rowid FROM "{spec.fts}" WHERE "{spec.fts}" MATCH %s', [phrase])
        else:  # shorter than one trigram: scan the (narrow) search table
            ids = RawSQL(f'SELECT rowid FROM "{spec.fts}" WHERE instr(lower(body), lower(%s)) > 0', [query])
    elif connection.vendor == "postgresql":
        # The same expression as the GIN index, unqualified, so the planner uses the index.
        ids = RawSQL(f'SELECT id FROM "{spec.table}" WHERE ({spec.text()}) ILIKE %s', [_like_pattern(query)])
    else:  # pragma: no cover - another database: a plain scan, same answers
        ids = RawSQL(f'SELECT id FROM "{spec.table}" WHERE lower({spec.text()}) LIKE lower(%s) ESCAPE \'\\\'', [_like_pattern(query)])
    return manager.filter(pk__in=ids).values("pk")


def ensure_search_index(connection) -> None:
    """Create what the search needs if it is missing (idempotent; cheap when all is there)."""
    if connection.vendor == "sqlite":
        _ensure_sqlite(connection)
    elif connection.vendor == "postgresql":
        _ensure_postgresql(connection)


def _ensure_sqlite(connection) -> None:
    with connection.cursor() as cursor:
        for spec in SEARCHABLE.values():
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %s", [spec.table])
            if not cursor.fetchone()[0]:
                continue  # before the model's own migration
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [spec.table])
            triggers = {name for (name,) in cursor.fetchall()}
            wanted = {f"{spec.fts}_ai", f"{spec.fts}_au", f"{spec.fts}_ad"}
            if wanted <= triggers:
                continue
            cursor.execute(f'CREATE VIRTUAL TABLE IF NOT EXISTS "{spec.fts}" USING fts5(body, tokenize = \'trigram\')')
            for name in wanted:
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            cursor.execute(
                f'CREATE TRIGGER "{spec.fts}_ai" AFTER INSERT ON "{spec.table}" BEGIN '
                f'INSERT INTO "{spec.fts}" (rowid, body) VALUES (new.id, {spec.text("new")}); END'
            )
            cursor.execute(
                f'CREATE TRIGGER "{spec.fts}_au" AFTER UPDATE OF {", ".join(spec.columns)} ON "{spec.table}" BEGIN '
                f'DELETE FROM "{spec.fts}" WHERE rowid = old.id; '
                f'INSERT INTO "{spec.fts}" (rowid, body) VALUES (new.id, {spec.text("new")}); END'
            )
            cursor.execute(
                f'CREATE TRIGGER "{spec.fts}_ad" AFTER DELETE ON "{spec.table}" BEGIN '
                f'DELETE FROM "{spec.fts}" WHERE rowid = old.id; END'
            )
            # The triggers were missing: rows written meanwhile are not in the index. Rebuild it.
            cursor.execute(f'DELETE FROM "{spec.fts}"')
            cursor.execute(f'INSERT INTO "{spec.fts}" (rowid, body) SELECT t.id, {spec.text("t")} FROM "{spec.table}" t')


def _ensure_postgresql(connection) -> None:
    with connection.cursor() as cursor:
        # pg_trgm is a trusted extension: the database owner may create it without superuser.
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for spec in SEARCHABLE.values():
            cursor.execute("SELECT to_regclass(%s)", [spec.table])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute(
                f'CREATE INDEX IF NOT EXISTS "{spec.table}_trgm" ON "{spec.table}" USING gin (({spec.text()}) gin_trgm_ops)'
            )


def ensure_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate: put back triggers a table rebuild dropped (SQLite)."""
    ensure_search_index(connections[using])


def compact_indexes(using: str = "default") -> None:
    """Rewrite the SQLite FTS indexes without the entries of deleted/updated rows (FTS5 keeps a
    deleted row's tokens in its segments until they merge). Run after a personal-data erasure
    (P4), so a pseudonymised phone number leaves no trigram behind."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for spec in SEARCHABLE.values():
            cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %s", [spec.fts])
            if cursor.fetchone()[0]:
                cursor.execute(f'INSERT INTO "{spec.fts}" ("{spec.fts}") VALUES (\'optimize\')')
