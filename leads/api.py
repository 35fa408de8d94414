"""The signed JSON API (/api/v1/): lead intake (L1) and the call robot's callback (L6).

Order of checks, cheapest first: body size (413) → per-IP rate (429) → signature (401) → replay
(the stored first answer) → JSON and fields (400) → the service. The first answer to a
`webhook-id` is stored in the same transaction as the lead, so a replay — even one racing the
original — gets that answer and creates nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from salesops.integrations.dialer import parse_callback
from salesops.integrations.webhooks import WebhookVerificationError, verify
from salesops.params import raw_json_depth_exceeds

from . import openapi, ratelimit
from .intake import LeadIntakeForm
from .models import WebhookReceipt, one_or_none
from .services import call_event_apply, lead_intake


# The intake and callback bodies are flat objects (a callback's transcript is a list of objects).
MAX_JSON_DEPTH = 8


def max_body_bytes() -> int:
    return int(getattr(settings, "LEAD_API_MAX_BODY_BYTES", 16 * 1024))


def _errors(status: int, errors: dict, **headers) -> JsonResponse:
    return JsonResponse({"errors": errors}, status=status, headers=headers, json_dumps_params={"ensure_ascii": False})


class Answer(Exception):
    """Raised by a handler to roll its transaction back and still answer (and store) `body`."""

    def __init__(self, status: int, body: dict) -> None:
        self.status, self.body = status, body


def _signed_endpoint(
    request: HttpRequest, *, endpoint: str, secrets: list[str], rate: tuple[int, int], handle: Callable[[dict], tuple[int, dict]]
) -> JsonResponse:
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = max_body_bytes()
    if not length.isdigit() or int(length) > limit:
        return _errors(413, {"body": [_("请求体超过 %(n)s 字节") % {"n": limit}]})
    allowed, retry_after = ratelimit.hit(f"api-{endpoint}", ratelimit.client_ip(request), limit=rate[0], window=rate[1])
    if not allowed:
        return _errors(429, {"rate": [_("请求过于频繁，请 %(s)s 秒后重试") % {"s": retry_after}]}, **{"Retry-After": str(retry_after)})
    body = request.body
    if len(body) > limit:
        return _errors(413, {"body": [_("请求体超过 %(n)s 字节") % {"n": limit}]})
    try:
        msg_id = verify(secrets, request.headers, body)
    except WebhookVerificationError as exc:
        return _errors(401, {"signature": [str(exc)]})
    stored = one_or_none(WebhookReceipt.objects.filter(endpoint=endpoint, key=msg_id))
    if stored is not None:
        return JsonResponse(stored.response, status=stored.status_code, headers={"webhook-replay": "true"}, json_dumps_params={"ensure_ascii": False})
    try:
        text = body.decode("utf-8")
        if raw_json_depth_exceeds(text, MAX_JSON_DEPTH):  # json.loads would recurse ~1,000 levels and fail
            raise ValueError(_("JSON 嵌套超过 %(n)s 层") % {"n": MAX_JSON_DEPTH})
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        status, answer = 400, {"errors": {"body": [_("不是有效的 JSON：%(error)s") % {"error": exc}]}}
    else:
        if not isinstance(payload, dict):
            status, answer = 400, {"errors": {"body": [_("应为 JSON 对象")]}}
        else:
            try:
                with transaction.atomic():
                    status, answer = handle(payload)
                    WebhookReceipt.objects.create(endpoint=endpoint, key=msg_id, status_code=status, response=answer)
                return JsonResponse(answer, status=status, json_dumps_params={"ensure_ascii": False})
            except Answer as rolled_back:
                status, answer = rolled_back.status, rolled_back.body
            except IntegrityError:
                # The same webhook-id is being processed by a concurrent request: answer as it did.
                stored = one_or_none(WebhookReceipt.objects.filter(endpoint=endpoint, key=msg_id))
                if stored is None:
                    raise
                return JsonResponse(stored.response, status=stored.status_code, headers={"webhook-replay": "true"})
    try:
        WebhookReceipt.objects.create(endpoint=endpoint, key=msg_id, status_code=status, response=answer)
    except IntegrityError:
        pass
    return JsonResponse(answer, status=status, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@never_cache
@require_POST
def lead_intake_api(request: HttpRequest) -> JsonResponse:
    """POST /api/v1/leads (L1)."""
    received = time.perf_counter()

    def handle(payload: dict) -> tuple[int, dict]:
        form = LeadIntakeForm(data={key: "" if value is None else value for key, value in payload.items()})
        if not form.is_valid():
            return 400, {"errors": {field: [str(message) for message in messages] for field, messages in form.errors.items()}}
        try:
            result = lead_intake(data=form.intake_data())
        except ValidationError as exc:  # a rule of the service (P1 consent) — named like a form error
            return 400, {"errors": {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}}
        lead = result.lead
        assignee = lead.assignee
        answer = {
            "id": lead.pk,
            "status": lead.status,
            "assignee": {"id": assignee.pk, "name": assignee.get_full_name() or assignee.username} if assignee else None,
            "assigned_in_ms": round((time.perf_counter() - received) * 1000, 2) if result.created and assignee else None,
            "duplicate": result.duplicate,
        }
        return (201 if result.created else 200), answer

    rate = getattr(settings, "LEAD_API_RATE_LIMIT", (120, 60))
    return _signed_endpoint(request, endpoint="leads", secrets=settings.LEAD_INTAKE_SECRETS, rate=rate, handle=handle)


@csrf_exempt
@never_cache
@require_POST
def call_callback_api(request: HttpRequest) -> JsonResponse:
    """POST /api/v1/calls/callback (L6): deduplicated on event_id as well as on webhook-id."""

    def handle(payload: dict) -> tuple[int, dict]:
        event, errors = parse_callback(payload)
        if event is None:
            return 400, {"errors": errors}
        try:
            with transaction.atomic():
                WebhookReceipt.objects.create(endpoint="call_event", key=event.event_id, status_code=200, response={})
        except IntegrityError:
            return 200, {"ok": True, "duplicate": True}
        call = call_event_apply(event)
        if call is None:  # roll back the event_id receipt too: nothing was applied
            raise Answer(404, {"errors": {"external_ref": [_("未知的外呼编号：%(ref)s") % {"ref": event.external_ref}]}})
        return 200, {"ok": True, "duplicate": False, "lead_id": call.lead_id}

    rate = getattr(settings, "DIALER_CALLBACK_RATE_LIMIT", (600, 60))
    return _signed_endpoint(request, endpoint="calls", secrets=settings.DIALER_SECRETS, rate=rate, handle=handle)


@require_GET
def openapi_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi.document(max_body_bytes()), json_dumps_params={"ensure_ascii": False, "indent": 1})
