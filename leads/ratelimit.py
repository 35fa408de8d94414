"""Fixed-window rate limits shared by every web process (R6).

The counters live in the `ratelimit` cache: the database (`DatabaseCache`) in the embedded setup,
Redis when REDIS_URL is set — never process memory, where each gunicorn worker kept its own count.
On the database the counter is one upsert statement (`INSERT … ON CONFLICT DO UPDATE … RETURNING`):
atomic on SQLite and PostgreSQL, so two processes never both read the same count, and one query
instead of the cache API's dozen (K3: the intake's query budget).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router
from django.http import HttpRequest

from salesops.security import client_ip as _client_ip


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the forwarded client address when REMOTE_ADDR is a configured proxy
    (`TRUSTED_PROXIES`); see `salesops.security.client_ip`."""
    return _client_ip(request)


def hit(scope: str, key: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one request; return (allowed, seconds until the window resets)."""
    cache = caches["ratelimit"]
    now = int(time.time())
    bucket = now // window
    cache_key = f"ratelimit:{scope}:{key}:{bucket}"[:240]
    if isinstance(cache, DatabaseCache):
        count = _count_in_database(cache, cache_key, window)
    else:
        count = _count(cache, cache_key, window)
    return count <= limit, (bucket + 1) * window - now


def _count(cache, cache_key: str, window: int) -> int:
    cache.add(cache_key, 0, window + 5)
    try:
        return cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, window + 5)
        return 1


def _count_in_database(cache: DatabaseCache, cache_key: str, window: int) -> int:
    """One atomic upsert on the cache's own table (so `clear()` and its expiry index still apply).
    The value is a plain integer under a key of its own ("rl:"), never read through `get()`. The
    first hit of a window also deletes the expired windows (an indexed range on `expires`)."""
    connection = connections[router.db_for_write(cache.cache_model_class)]
    table = connection.ops.quote_name(cache._table)
    key = cache.make_and_validate_key(f"rl:{cache_key}")
    now = datetime.now(timezone.utc)
    expires = connection.ops.adapt_datetimefield_value(now + timedelta(seconds=window + 5))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, '1', %s) "
            f"ON CONFLICT (cache_key) DO UPDATE SET value = CAST(CAST({table}.value AS INTEGER) + 1 AS TEXT) "
            "RETURNING value",
            [key, expires],
        )
        count = int(cursor.fetchone()[0])
        if count == 1:
            cursor.execute(f"DELETE FROM {table} WHERE expires < %s", [connection.ops.adapt_datetimefield_value(now)])
    return count
