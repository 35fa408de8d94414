"""Delivery of outbox rows (L5): one task per row, retries with backoff, every attempt recorded.

The Notification row is the truth. A worker *claims* a row with a conditional update (status
pending/sending and due → sending with a lease), so two workers never send the same row; a worker
that dies mid-send leaves a lease that expires and the per-minute sweep (`deliver_due`) picks the
row up again. Each row is its own task, so a channel that is down (timeouts, errcode) only delays
its own rows — nothing else waits and nothing is lost: after `NOTIFY_MAX_ATTEMPTS` the row is
`failed` and stays visible in admin with its attempt log.

Channels: in_app (the inbox is the database: delivered when written), wecom_app (textcard),
wecom_robot (group robot markdown), email (Django mailers; console backend by default),
call_robot (the outbound dialer; payload["call"] is the request).
"""

from __future__ import annotations

import logging
import re
import smtplib
import time
from datetime import datetime, timedelta
from html import escape

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.utils import timezone
from django_q.tasks import async_task

from .integrations import IntegrationError, dialer, wecom
from .models import Channel, Notification, NotificationAttempt, NotificationStatus

logger = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt (the last value repeats).
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 1800, 3600)
DUE_STATUSES = (NotificationStatus.PENDING, NotificationStatus.SENDING)


def schedule(notification_id: int) -> None:
    async_task("salesops.tasks.deliver_notification", notification_id, task_name=f"notify-{notification_id}")


def max_attempts() -> int:
    return int(getattr(settings, "NOTIFY_MAX_ATTEMPTS", 8))


def backoff(failed_attempts: int) -> timedelta:
    index = min(max(failed_attempts, 1), len(BACKOFF_SECONDS)) - 1
    return timedelta(seconds=BACKOFF_SECONDS[index])


def lease() -> timedelta:
    """How long a claim holds: longer than one send can take (two HTTP calls with timeouts)."""
    return timedelta(seconds=2 * float(getattr(settings, "HTTP_TIMEOUT_SECONDS", 5)) + 60)


def claim(model: type[models.Model], pk, *, where: dict, changes: dict, reason: str = ""):
    """Apply `changes` to row `pk` only if it still matches `where`; return the fresh row or None.

    The conditional UPDATE is the lock: of two workers racing for the same row exactly one sees a
    row count of 1 (PostgreSQL re-checks the WHERE after the other commits; SQLite serialises
    writers). `QuerySet.update()` skips simple_history, so the history row is written here.
    """
    if not model._default_manager.filter(pk=pk, **where).update(**changes):
        return None
    obj = model._default_manager.get(pk=pk)
    if hasattr(model, "history"):
        model.history.bulk_history_create([obj], update=True, default_change_reason=reason[:100])
    return obj


def absolute_url(url: str) -> str:
    if not url or url.startswith(("http://", "https://")):
        return url
    return settings.SITE_URL.rstrip("/") + "/" + url.lstrip("/")


# --- Pacing ------------------------------------------------------------------------------------
# WeCom drops messages over its limits without an error, so the outbox counts its own recent
# attempts and defers a row instead of sending it. Defaults sit a little under the vendor limits so
# two workers racing on the count cannot push a member over.


def _limits(channel: str) -> list[tuple[int, timedelta, bool]]:
    """(max attempts, window, per recipient?) for a channel."""
    if channel == Channel.WECOM_APP:
        return [
            (int(getattr(settings, "WECOM_APP_PER_MEMBER_PER_MINUTE", wecom.APP_MESSAGES_PER_MEMBER_PER_MINUTE - 2)), timedelta(minutes=1), True),
            (int(getattr(settings, "WECOM_APP_PER_MEMBER_PER_HOUR", wecom.APP_MESSAGES_PER_MEMBER_PER_HOUR - 10)), timedelta(hours=1), True),
        ]
    if channel == Channel.WECOM_ROBOT:
        return [(int(getattr(settings, "WECOM_ROBOT_PER_MINUTE", wecom.ROBOT_MESSAGES_PER_MINUTE - 2)), timedelta(minutes=1), False)]
    return []


def paced_until(notification: Notification, now: datetime) -> datetime | None:
    """The earliest time this row may be sent without breaking a rate limit, or None for now."""
    for limit, window, per_recipient in _limits(notification.channel):
        recent = NotificationAttempt.objects.filter(
            notification__channel=notification.channel, attempted_at__gt=now - window
        ).exclude(notification=notification)
        if per_recipient:
            recent = recent.filter(notification__recipient_id=notification.recipient_id)
        times = list(recent.order_by("-attempted_at").values_list("attempted_at", flat=True)[:limit])
        if len(times) >= limit:
            # The oldest of the last `limit` attempts leaves the window at this moment.
            return times[-1] + window + timedelta(seconds=1)
    return None


# --- Channels ----------------------------------------------------------------------------------


def _wecom_userid(notification: Notification) -> str:
    rep = getattr(notification.recipient, "rep", None) if notification.recipient_id else None
    return getattr(rep, "wecom_userid", "") or ""


def _send_wecom_app(notification: Notification) -> str:
    userid = _wecom_userid(notification)
    if not userid:
        raise IntegrationError("接收人没有企业微信ID", retryable=False, code="no_wecom_userid")
    description = notification.payload.get("description_html") or (
        f'<div class="normal">{escape(notification.body)}</div>' if notification.body else ""
    )
    return wecom.WeComApp.from_settings().send_textcard(
        touser=userid,
        title=notification.title,
        description=description or escape(notification.title),
        url=absolute_url(notification.url) or settings.SITE_URL,
        btntxt=notification.payload.get("btntxt", "详情"),
    )


# A CN mobile written any usual way (13800001111, 138 0000 1111, +86 138-0000-1111) or a landline.
PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1\d{2})[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)|(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)")


def mask_phones(text: str) -> str:
    """139 0000 5678 → 139****5678; 0571-87654321 → 0571****4321 (R2: group messages)."""

    def _mask(match: re.Match) -> str:
        if match.group(1):
            return f"{match.group(1)}****{match.group(3)}"
        return f"{match.group(4)}****{match.group(5)[-4:]}"

    return PHONE_IN_TEXT.sub(_mask, text or "")


def _send_wecom_robot(notification: Notification) -> str:
    """A group robot posts to the whole group, so its message carries no personal link (an ack
    link would let any member or link scanner act for the rep) and no full phone number (R2).
    This is the only door to the robot: the rule holds whatever a feature put in the row."""
    mention = _wecom_userid(notification)
    lines = [f"**{mask_phones(notification.title)}**", *[f">{mask_phones(line)}" for line in notification.body.splitlines() if line.strip()]]
    if mention:
        lines.append(f"<@{mention}>")
    # Only a link meant for the group (the lead page, behind login) — never the row's own url.
    group_url = notification.payload.get("group_url", "")
    if group_url:
        lines.append(f"[打开]({absolute_url(group_url)})")
    wecom.robot_send(wecom.robot_markdown("\n".join(lines)))
    return ""


def _send_email(notification: Notification) -> str:
    address = (notification.recipient.email if notification.recipient_id else "") or notification.payload.get("email", "")
    if not address:
        raise IntegrationError("接收人没有邮箱", retryable=False, code="no_email")
    body = notification.body
    if notification.url:
        body = f"{body}\n\n{absolute_url(notification.url)}".strip()
    message = EmailMessage(subject=notification.title, body=body, to=[address])
    try:
        # Django 6.1 mailers: `MAILERS[alias]`; without MAILERS the default mailer is the console.
        if hasattr(settings, "MAILERS"):
            message.send(using=getattr(settings, "NOTIFY_MAILER", "default"))
        else:
            message.send()
    except (smtplib.SMTPException, OSError) as exc:
        raise IntegrationError(f"email: {exc}", code="smtp") from exc
    return ""


def _send_call_robot(notification: Notification) -> str:
    request = notification.payload.get("call") or {}
    if not request.get("external_ref") or not request.get("callee"):
        raise IntegrationError("外呼请求缺少 external_ref / callee", retryable=False, code="bad_payload")
    return dialer.request_call(**request)


SENDERS = {
    Channel.WECOM_APP: _send_wecom_app,
    Channel.WECOM_ROBOT: _send_wecom_robot,
    Channel.EMAIL: _send_email,
    Channel.CALL_ROBOT: _send_call_robot,
}


def channel_configured(channel: str) -> bool:
    """Whether a channel can deliver at all here (features skip channels that are not set up)."""
    return {
        Channel.IN_APP: True,
        Channel.WECOM_APP: wecom.app_configured(),
        Channel.WECOM_ROBOT: wecom.robot_configured(),
        Channel.EMAIL: True,
        Channel.CALL_ROBOT: dialer.configured(),
    }.get(channel, False)


# --- The delivery task -------------------------------------------------------------------------


def deliver(notification_id: int) -> str:
    """Deliver one row if it is due; safe to run twice or concurrently. Returns the outcome."""
    now = timezone.now()
    notification = claim(
        Notification,
        notification_id,
        where={"status__in": DUE_STATUSES, "next_attempt_at__lte": now},
        changes={"status": NotificationStatus.SENDING, "next_attempt_at": now + lease()},
        reason="claimed for delivery",
    )
    if notification is None:
        return "not due"
    if notification.channel == Channel.IN_APP:
        notification.status, notification.delivered_at = NotificationStatus.DELIVERED, now
        notification.save(update_fields=["status", "delivered_at"])
        return NotificationStatus.DELIVERED

    until = paced_until(notification, now)
    if until is not None:
        notification.status, notification.next_attempt_at = NotificationStatus.PENDING, until
        notification.last_error = f"限速：{timezone.localtime(until):%H:%M:%S} 后发送"
        notification.save(update_fields=["status", "next_attempt_at", "last_error"])
        return "paced"

    sender = SENDERS.get(notification.channel)
    started, external_id, error = time.perf_counter(), "", None
    try:
        if sender is None:
            raise IntegrationError(f"unknown channel {notification.channel}", retryable=False, code="unknown_channel")
        external_id = sender(notification) or ""
    except IntegrationError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - a bug in one channel must not lose the row
        logger.exception("delivery of notification %s crashed", notification_id)
        error = IntegrationError(f"{exc.__class__.__name__}: {exc}", code="exception")
    duration_ms = int((time.perf_counter() - started) * 1000)

    with transaction.atomic():
        notification.attempts += 1
        NotificationAttempt.objects.create(
            notification=notification,
            attempt_number=notification.attempts,
            attempted_at=now,
            ok=error is None,
            error_code=error.code if error else "",
            duration_ms=duration_ms,
            detail=str(error)[:2000] if error else (f"external_id={external_id}" if external_id else "ok"),
        )
        if error is None:
            notification.status = NotificationStatus.DELIVERED
            notification.delivered_at = timezone.now()
            notification.external_id = external_id[:100]
            notification.last_error = ""
        elif not error.retryable or notification.attempts >= max_attempts():
            notification.status = NotificationStatus.FAILED
            notification.last_error = str(error)[:2000]
        else:
            notification.status = NotificationStatus.PENDING
            notification.next_attempt_at = timezone.now() + backoff(notification.attempts)
            notification.last_error = str(error)[:2000]
        notification.save(
            update_fields=["attempts", "status", "delivered_at", "external_id", "last_error", "next_attempt_at"]
        )
    if error is not None:
        logger.warning("notification %s attempt %s failed: %s", notification_id, notification.attempts, error)
    return notification.status


def deliver_due(now: datetime | None = None, limit: int = 500) -> int:
    """The sweep (every minute): one task per row that is due again — retries after backoff,
    rows deferred by pacing, and rows whose worker died (lease expired)."""
    now = now or timezone.now()
    due = list(
        Notification.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
        .exclude(channel=Channel.IN_APP)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in due:
        schedule(notification_id)
    return len(due)
