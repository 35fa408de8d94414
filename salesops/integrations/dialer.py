"""The outbound call robot (外呼机器人): one generic, signed webhook contract; a small adapter per
vendor (Alibaba SmartCall, Tencent CCC, 容联七陌, 百应) can translate it.

Request: `POST {DIALER_URL}` signed per Standard Webhooks with the first of `DIALER_SECRETS`, header
`Idempotency-Key: <external_ref>` so a retried request never dials twice →
`{"call_request_id": "cr_1", "status": "queued"}`.
Callback: `POST /api/v1/calls/callback`, signed the same way, deduplicated on `event_id`
(see `parse_callback`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from salesops.params import parse_datetime_value

from . import IntegrationError, post_json, raise_for_http_status
from .webhooks import signature_headers

CALL_STATUSES = ("answered", "no_answer", "busy", "rejected", "power_off", "unreachable", "invalid_number", "failed")


def configured() -> bool:
    return bool(settings.DIALER_URL)


def request_call(*, external_ref: str, callee: str, script_id: str, variables: dict, max_attempts: int = 2, record: bool = True) -> str:
    """Ask the robot to dial; returns the vendor's call_request_id."""
    if not configured():
        raise IntegrationError("call robot not configured (DIALER_URL)", code="not_configured")
    body = json.dumps(
        {
            "external_ref": external_ref,
            "callee": callee,
            "script_id": script_id,
            "variables": variables,
            "max_attempts": max_attempts,
            "record": record,
        },
        ensure_ascii=False,
    ).encode("utf-8")
    headers = {"Idempotency-Key": external_ref}
    if settings.DIALER_SECRETS:
        # The message id stays the same across retries: it *is* the same message.
        headers |= signature_headers(settings.DIALER_SECRETS[0], body, msg_id=f"dial_{external_ref}")
    status, answer = post_json(settings.DIALER_URL, None, body=body, headers=headers)
    raise_for_http_status(status, answer, "call robot")
    call_request_id = str((answer or {}).get("call_request_id") or "")
    if not call_request_id:
        raise IntegrationError(f"call robot: no call_request_id in {str(answer)[:200]}", code="bad_answer")
    return call_request_id


@dataclass
class CallEvent:
    event_id: str
    event_type: str
    external_ref: str
    status: str
    attempt: int = 1
    talk_seconds: int = 0
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_by: str = ""
    intent: str = ""
    transcript: list = field(default_factory=list)
    recording_url: str = ""


def parse_callback(data) -> tuple[CallEvent | None, dict[str, list[str]]]:
    """Validate a callback body; return (event, {}) or (None, {field: [messages]})."""
    errors: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        return None, {"body": ["expected a JSON object"]}

    def text(name: str, required: bool = True, limit: int = 200) -> str:
        value = data.get(name)
        if value in (None, ""):
            if required:
                errors.setdefault(name, []).append("required")
            return ""
        if not isinstance(value, str) or len(value) > limit:
            errors.setdefault(name, []).append(f"must be a string of at most {limit} characters")
            return ""
        return value

    def moment(name: str) -> datetime | None:
        value = data.get(name)
        if value in (None, ""):
            return None
        parsed = parse_datetime_value(value)  # "2026-13-45" is None here, not a ValueError
        if parsed is None or parsed.tzinfo is None:
            errors.setdefault(name, []).append("must be an ISO 8601 time with offset")
        return parsed

    event_id, event_type, external_ref = text("event_id"), text("event_type"), text("external_ref")
    status = text("status")
    if status and status not in CALL_STATUSES:
        errors.setdefault("status", []).append("one of " + ", ".join(CALL_STATUSES))
    talk_seconds = data.get("talk_seconds", 0) or 0
    if not isinstance(talk_seconds, int) or isinstance(talk_seconds, bool) or not 0 <= talk_seconds <= 86400:
        errors.setdefault("talk_seconds", []).append("must be an integer number of seconds")
        talk_seconds = 0
    attempt = data.get("attempt", 1) or 1
    if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= 1000:
        errors.setdefault("attempt", []).append("must be a positive integer")
        attempt = 1
    transcript = data.get("transcript") or []
    if not isinstance(transcript, list):
        errors.setdefault("transcript", []).append("must be a list")
        transcript = []
    answered_at, ended_at = moment("answered_at"), moment("ended_at")
    hangup_by = text("hangup_by", required=False, limit=20)
    intent = text("intent", required=False, limit=20)
    recording_url = text("recording_url", required=False, limit=500)
    if errors:
        return None, errors
    return (
        CallEvent(
            event_id=event_id,
            event_type=event_type,
            external_ref=external_ref,
            status=status,
            attempt=attempt,
            talk_seconds=talk_seconds,
            answered_at=answered_at,
            ended_at=ended_at,
            hangup_by=hangup_by,
            intent=intent,
            transcript=transcript[:200],
            recording_url=recording_url,
        ),
        {},
    )
