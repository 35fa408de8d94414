"""Fixed-window rate limits in the cache (LocMem per process by default, Redis when REDIS_URL is
set, so several web processes share the count)."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR; behind a proxy set LEAD_TRUSTED_PROXY_HOPS so the real client is counted."""
    from django.conf import settings

    hops = int(getattr(settings, "LEAD_TRUSTED_PROXY_HOPS", 0))
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def hit(scope: str, key: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one request; return (allowed, seconds until the window resets)."""
    now = int(time.time())
    bucket = now // window
    cache_key = f"ratelimit:{scope}:{key}:{bucket}"
    cache.add(cache_key, 0, window + 5)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, window + 5)
        count = 1
    return count <= limit, (bucket + 1) * window - now
