"""Fixed-window rate limits shared by every web process (R6).

The counters live in the `ratelimit` cache: the database (`DatabaseCache`) in the embedded setup,
Redis when REDIS_URL is set — never process memory, where each gunicorn worker kept its own count.
On the database the read-increment-write runs in one transaction (SQLite's IMMEDIATE mode takes
the write lock at BEGIN), so two processes never both read the same count.
"""

from __future__ import annotations

import time

from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import router, transaction
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
        with transaction.atomic(using=router.db_for_write(cache.cache_model_class)):
            count = _count(cache, cache_key, window)
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
