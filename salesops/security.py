"""Account and transport hardening (R5, R6): who the client is, login back-off, response headers.

- `client_ip`: REMOTE_ADDR, unless REMOTE_ADDR is one of our own proxies (`TRUSTED_PROXIES`); then
  the right-most X-Forwarded-For address that is not one of them. A made-up X-Forwarded-For from
  a client that talks to us directly is ignored — it is the client's own text.
- `login_cool_off`: django-axes locks an account (and, separately, an IP) after
  `AXES_FAILURE_LIMIT` failures; each further lockout within a day doubles the wait.
- `SecurityHeadersMiddleware`: Permissions-Policy everywhere, `Cache-Control: private, no-store`
  on pages that show people (leads, customers, contacts, visits, money, points).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


def _networks() -> list:
    networks = []
    for item in getattr(settings, "TRUSTED_PROXIES", []) or []:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue
    return networks


def _is_proxy(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    try:
        remote = str(ipaddress.ip_address(remote))
    except ValueError:
        # No or garbled peer address (a test client's force_login, a unix socket): one shared,
        # valid placeholder, because axes stores it in PostgreSQL's `inet` column.
        remote = "0.0.0.0"
    networks = _networks()
    if not networks or not _is_proxy(remote, networks):
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for address in reversed(forwarded):  # right to left: the first address not ours is the client
        if not _is_proxy(address, networks):
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                return remote  # garbage from the client side of the chain: count the proxy hop
    return remote


def login_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The username axes records and locks on: what was typed, cut to the longest real username
    (150) — a 20 kB "username" would not fit axes' varchar(255) on PostgreSQL and answer 500."""
    username = (credentials or {}).get("username")
    if username is None and request is not None and request.method == "POST":
        username = request.POST.get("username")
    return str(username or "")[:150]


def login_cool_off(request: HttpRequest | None = None) -> timedelta:
    """15 minutes for the first lockout; doubled for each earlier lockout of the same username or
    IP in the last 24 hours (at most 24 hours)."""
    base = timedelta(minutes=int(getattr(settings, "LOGIN_LOCKOUT_MINUTES", 15)))
    if request is None:
        return base
    from axes.models import AccessFailureLog

    limit = max(1, int(getattr(settings, "AXES_FAILURE_LIMIT", 5)))
    username = login_username(request)
    since = timezone.now() - timedelta(hours=24)
    failures = AccessFailureLog.objects.filter(attempt_time__gte=since)
    by_user = failures.filter(username=username).count() if username else 0
    by_ip = failures.filter(ip_address=client_ip(request)).count()
    earlier_lockouts = max(0, max(by_user, by_ip) // limit - 1)
    return min(base * (2**min(earlier_lockouts, 10)), timedelta(hours=24))


# URL namespaces / names whose pages show personal data: never stored by a browser or proxy cache.
PERSONAL_DATA_NAMESPACES = ("leads", "customers", "hospitals", "visits", "cash", "scoring", "dashboards", "imports", "admin")
PERSONAL_DATA_NAMES = ("home",)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy:
            response.headers.setdefault("Permissions-Policy", policy)
        match = getattr(request, "resolver_match", None)
        personal = match is not None and (
            any(ns in PERSONAL_DATA_NAMESPACES for ns in match.namespaces) or match.url_name in PERSONAL_DATA_NAMES
        )
        if personal or (getattr(request, "user", None) is not None and request.user.is_authenticated):
            response.headers["Cache-Control"] = "private, no-store"
        return response
