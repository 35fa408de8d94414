"""Adapters to outside systems (WeCom, the outbound call robot, signed webhooks).

Each adapter speaks plain HTTP through `post_json` / `get_json` (urllib: no extra dependency), has
a local default when it is not configured, and raises `IntegrationError` with `retryable` set so
the outbox knows whether backing off can help. Tests talk to a real local HTTP server.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings


class IntegrationError(Exception):
    """A call to an outside system failed. `code` is the vendor's error code when there is one."""

    def __init__(self, message: str, *, retryable: bool = True, code: str | int = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = str(code)


# R3: the delivery of one outbox row sets its channel's timeout for every call it makes.
_channel_timeout: ContextVar[float | None] = ContextVar("channel_timeout", default=None)


@contextmanager
def timeout_for(seconds: float | None) -> Iterator[None]:
    """Calls made inside use `seconds` as their timeout unless they pass their own."""
    token = _channel_timeout.set(seconds)
    try:
        yield
    finally:
        _channel_timeout.reset(token)


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    override = _channel_timeout.get()
    return override if override is not None else float(getattr(settings, "HTTP_TIMEOUT_SECONDS", 5))


def _request(request: urllib.request.Request, timeout: float | None) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=_timeout(timeout)) as response:  # noqa: S310 - configured URLs
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (TimeoutError, socket.timeout) as exc:
        raise IntegrationError(f"timeout after {_timeout(timeout):g}s: {request.full_url.split('?')[0]}", code="timeout") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        code = "timeout" if isinstance(reason, (TimeoutError, socket.timeout)) else "network"
        raise IntegrationError(f"{code}: {reason}", code=code) from exc
    except OSError as exc:  # connection reset while reading, etc.
        raise IntegrationError(f"network: {exc}", code="network") from exc
    if not raw:
        return status, {}
    try:
        return status, json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return status, {"raw": raw[:500].decode("utf-8", "replace")}


def post_json(url: str, payload: Any, *, headers: dict | None = None, body: bytes | None = None, timeout: float | None = None) -> tuple[int, Any]:
    """POST JSON (or the exact `body` bytes when the caller signed them) and decode the JSON answer."""
    data = body if body is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    return _request(request, timeout)


def get_json(url: str, *, timeout: float | None = None) -> tuple[int, Any]:
    return _request(urllib.request.Request(url, method="GET"), timeout)


def raise_for_http_status(status: int, answer: Any, what: str) -> None:
    """5xx and 429 are worth retrying; other 4xx are a request we must not repeat as is."""
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in (408, 425, 429)
    raise IntegrationError(f"{what}: HTTP {status} {str(answer)[:200]}", retryable=retryable, code=f"http_{status}")
