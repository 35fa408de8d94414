"""Background work of lead-to-cash. Tasks take ids, load, and call a service; they may run twice."""

from __future__ import annotations


def statement_import_task(statement_id: int) -> str:
    """Queued on upload (after commit). Claiming is conditional, so a second run does nothing."""
    from .statements import statement_import

    statement = statement_import(statement_id)
    return statement.status if statement else "missing"


def expire_quotes() -> int:
    """Daily (schedule `cash.expire_quotes`, migration 0004): sent versions past validity expire."""
    from .quotes import quote_versions_expire

    return quote_versions_expire()
