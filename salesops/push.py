"""U4: Web Push subscriptions — the browser subscribes with the VAPID public key and posts its
subscription here; the outbox's `web_push` channel (salesops.delivery) sends to it."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .integrations import webpush
from .models import PushSubscription

# The browsers' push services. Only these receive our POSTs: a subscription is user input, and
# the server must not be made to POST to an address of the user's choosing (SSRF).
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    ".notify.windows.com",
    ".push.apple.com",
)


def endpoint_allowed(endpoint: str) -> bool:
    parts = urlsplit(endpoint)
    hosts = tuple(getattr(settings, "WEBPUSH_ALLOWED_HOSTS", DEFAULT_PUSH_HOSTS))
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and getattr(settings, "WEBPUSH_ALLOW_HTTP", False)):
        return False
    return any(host == allowed or (allowed.startswith(".") and host.endswith(allowed)) for allowed in hosts)


def push_subscribe(*, user, endpoint: str, p256dh: str, auth: str, user_agent: str = "") -> PushSubscription:
    """Record (or move to this user, or re-activate) the browser's subscription."""
    endpoint = (endpoint or "").strip()
    if not endpoint or len(endpoint) > 1000 or not endpoint_allowed(endpoint):
        raise ValidationError({"endpoint": _("推送地址（endpoint）不是受支持的浏览器推送服务。")})
    try:
        key = webpush.b64url_decode(p256dh)
    except ValueError:
        key = b""
    if len(key) != 65 or key[0] != 4:
        raise ValidationError({"p256dh": _("推送公钥（keys.p256dh）格式不对。")})
    try:
        secret = webpush.b64url_decode(auth)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise ValidationError({"auth": _("推送认证密钥（keys.auth）格式不对。")})
    with transaction.atomic():
        subscription = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first() or PushSubscription(endpoint=endpoint)
        subscription.user, subscription.p256dh, subscription.auth = user, p256dh.strip(), auth.strip()
        subscription.user_agent, subscription.active = (user_agent or "")[:300], True
        subscription._history_user = user
        subscription.full_clean(validate_unique=False)
        subscription.save()
    return subscription


def push_deactivate(subscription: PushSubscription, *, by=None) -> None:
    if subscription.active:
        subscription.active = False
        subscription._history_user = by
        subscription.save(update_fields=["active"])


@require_GET
@login_required
def push_key(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"publicKey": webpush.vapid_public_key()})


@require_POST
@login_required
def push_subscription_save(request: HttpRequest) -> JsonResponse:
    try:
        data = json.loads(request.body or b"{}")
        keys = data.get("keys") or {}
        subscription = push_subscribe(
            user=request.user,
            endpoint=str(data.get("endpoint", "")),
            p256dh=str(keys.get("p256dh", "")),
            auth=str(keys.get("auth", "")),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except (ValueError, AttributeError):
        return JsonResponse({"error": _("请求不是有效的 JSON 推送订阅。")}, status=400)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages), "fields": list(getattr(exc, "message_dict", {}) or {})}, status=400)
    return JsonResponse({"id": subscription.pk, "active": True}, status=201)
