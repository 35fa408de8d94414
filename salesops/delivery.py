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
import smtplib
import time
from datetime import datetime, timedelta
from html import escape

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.utils import timezone
from django_q.tasks import async_task

from . import privacy
from .integrations import IntegrationError, dialer, timeout_for, wecom
from .models import ChannelCircuit, CircuitState, Channel, Notification, NotificationAttempt, NotificationStatus

logger = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt (the last value repeats).
BACKOFF_SECONDS = (30, 60, 120, 300, 600, 1800, 3600)
DUE_STATUSES = (NotificationStatus.PENDING, NotificationStatus.SENDING)


def delivery_cluster() -> str | None:
    """R3: deliveries run on their own django-q cluster (its own queue and workers), so escalation,
    sweeps and every other time-critical task never wait behind them. None: the default cluster."""
    return getattr(settings, "Q_DELIVERY_CLUSTER", None) or None


def cluster_for(channel: str | None) -> str | None:
    """R3: a channel may have a queue of its own (`DELIVERY_CLUSTERS`, WeCom by default), so a hung
    channel's backlog — queued before its circuit opened — never sits in front of another's rows."""
    return getattr(settings, "DELIVERY_CLUSTERS", {}).get(channel) or delivery_cluster()


def schedule(notification_id: int, channel: str | None = None) -> None:
    """Queue the delivery task (the row's `enqueued_at` marker is already set by its writer)."""
    async_task(
        "salesops.tasks.deliver_notification", notification_id, task_name=f"notify-{notification_id}", cluster=cluster_for(channel)
    )


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


def mask_phones(text: str) -> str:
    """139 0000 5678 → 139****5678; 0571-87654321 → 0571****4321 (R2, P2: the one rule in salesops/privacy.py)."""
    return privacy.mask_phones(text)


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


def _send_web_push(notification: Notification) -> str:
    """U4: to every browser the recipient subscribed; a gone subscription is switched off. Sent
    when at least one browser took it."""
    from .integrations import webpush
    from .models import PushSubscription
    from .push import push_deactivate

    subscriptions = list(PushSubscription.objects.filter(user_id=notification.recipient_id, active=True)) if notification.recipient_id else []
    if not subscriptions:
        raise IntegrationError("接收人没有开启浏览器推送", retryable=False, code="no_push_subscription")
    payload = {
        "title": notification.title,
        "body": notification.body[:300],
        "url": notification.url or "/",
        "tag": f"notification-{notification.pk}",
        "requireInteraction": True,
    }
    delivered, last_error = 0, None
    for subscription in subscriptions:
        try:
            webpush.send(endpoint=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth, payload=payload)
            delivered += 1
        except IntegrationError as exc:
            if exc.code == "gone":
                push_deactivate(subscription)
            last_error = exc
    if not delivered:
        raise last_error
    return ""


SENDERS = {
    Channel.WEB_PUSH: _send_web_push,
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
        Channel.WEB_PUSH: True,  # VAPID keys: configured, or made for the process in development
    }.get(channel, False)


# --- Channel isolation (R3) ----------------------------------------------------------------------
# Every channel has its own timeout, its own concurrency (how many rows of it may be in flight at
# once across all workers) and its own circuit breaker. A channel that hangs therefore ties up at
# most its own share of workers for one timeout each, then opens its circuit: its rows wait in the
# outbox (no attempt counted, nothing lost) and every other channel keeps flowing.

CHANNEL_DEFAULTS = {
    # channel: concurrency, timeout seconds
    Channel.WECOM_APP: (2, None),
    Channel.WECOM_ROBOT: (1, None),
    Channel.EMAIL: (4, None),
    Channel.CALL_ROBOT: (2, None),
    Channel.WEB_PUSH: (4, None),
}
# Errors that say the channel itself is unwell (not the recipient or the message).
CHANNEL_FAILURE_CODES = {"timeout", "network", "exception", "smtp"}


def channel_policy(channel: str) -> dict:
    """{concurrency, timeout, failure_threshold, cooldown} for a channel; `DELIVERY_CHANNELS`
    ({"wecom_app": {"timeout": 3, "concurrency": 2}, ...}) overrides the defaults."""
    concurrency, timeout = CHANNEL_DEFAULTS.get(channel, (2, None))
    policy = {
        "concurrency": concurrency,
        "timeout": float(timeout or getattr(settings, "HTTP_TIMEOUT_SECONDS", 5)),
        "failure_threshold": int(getattr(settings, "CIRCUIT_FAILURE_THRESHOLD", 5)),
        "cooldown": float(getattr(settings, "CIRCUIT_COOLDOWN_SECONDS", 60)),
    }
    policy.update(getattr(settings, "DELIVERY_CHANNELS", {}).get(channel, {}))
    return policy


def _is_channel_failure(error: IntegrationError) -> bool:
    return error.code in CHANNEL_FAILURE_CODES or error.code.startswith("http_5") or error.code == "http_429"


def circuit_allows(channel: str, now: datetime) -> bool:
    """Closed: yes. Open: no, until the cool-down has passed; then exactly one caller wins the
    conditional update to half-open and sends the probe. Half-open: no (a probe is out), unless
    the probe's worker died (its lease ran out)."""
    row = ChannelCircuit.objects.filter(channel=channel).first()
    if row is None or row.state == CircuitState.CLOSED:
        return True
    cooled = row.opened_at is None or now >= row.opened_at + timedelta(seconds=channel_policy(channel)["cooldown"])
    stale_probe = row.state == CircuitState.HALF_OPEN and (row.probe_started_at is None or now >= row.probe_started_at + lease())
    if (row.state == CircuitState.OPEN and cooled) or stale_probe:
        return claim(
            ChannelCircuit, row.pk, where={"state": row.state, "probe_started_at": row.probe_started_at},
            changes={"state": CircuitState.HALF_OPEN, "probe_started_at": now}, reason="冷却结束，试探发送",
        ) is not None
    return False


def circuit_open_channels(now: datetime) -> set[str]:
    """Channels on which nothing may be queued now (open and still cooling, or probing)."""
    blocked = set()
    for row in ChannelCircuit.objects.exclude(state=CircuitState.CLOSED):
        cooled = row.opened_at is None or now >= row.opened_at + timedelta(seconds=channel_policy(row.channel)["cooldown"])
        if row.state == CircuitState.HALF_OPEN or not cooled:
            blocked.add(row.channel)
    return blocked


def circuit_record(channel: str, *, ok: bool, error: str = "", now: datetime | None = None) -> None:
    """Success closes the circuit; a channel failure counts, and at the threshold (or on a failed
    probe) opens it. Failures that concern one recipient or message do not count."""
    now = now or timezone.now()
    row, _created = ChannelCircuit.objects.get_or_create(channel=channel)
    if ok:
        if row.state != CircuitState.CLOSED or row.consecutive_failures:
            claim(ChannelCircuit, row.pk, where={}, changes={"state": CircuitState.CLOSED, "consecutive_failures": 0, "opened_at": None}, reason="发送成功，恢复")
        return
    ChannelCircuit.objects.filter(pk=row.pk).update(consecutive_failures=models.F("consecutive_failures") + 1, last_error=error[:2000])
    row.refresh_from_db()
    if row.state == CircuitState.HALF_OPEN or (row.state == CircuitState.CLOSED and row.consecutive_failures >= channel_policy(channel)["failure_threshold"]):
        claim(ChannelCircuit, row.pk, where={"state": row.state}, changes={"state": CircuitState.OPEN, "opened_at": now}, reason=f"连续失败，熔断：{error[:80]}")
        logger.warning("circuit of channel %s opened after %s failures: %s", channel, row.consecutive_failures, error)


def _release(notification_id: int) -> None:
    """The task has run: the sweep may queue the row again when it is due."""
    Notification.objects.filter(pk=notification_id).update(enqueued_at=None)


def _in_flight(channel: str, now: datetime) -> int:
    return Notification.objects.filter(channel=channel, status=NotificationStatus.SENDING, next_attempt_at__gt=now).count()


# --- The delivery task -------------------------------------------------------------------------


def deliver(notification_id: int) -> str:
    """Deliver one row if it is due; safe to run twice or concurrently. Returns the outcome."""
    try:
        return _deliver(notification_id)
    finally:
        _release(notification_id)


def _deliver(notification_id: int) -> str:
    now = timezone.now()
    channel = Notification.objects.filter(pk=notification_id).values_list("channel", flat=True).first()
    if channel is None:
        return "gone"
    if channel != Channel.IN_APP:
        # R3: a broken or saturated channel costs this worker one or two queries, not a timeout.
        if not circuit_allows(channel, now):
            return "circuit open"
        if _in_flight(channel, now) >= channel_policy(channel)["concurrency"]:
            return "channel busy"
    notification = claim(
        Notification,
        notification_id,
        where={"status__in": DUE_STATUSES, "next_attempt_at__lte": now},
        changes={"status": NotificationStatus.SENDING, "next_attempt_at": now + lease(), "enqueued_at": None},
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
        with timeout_for(channel_policy(notification.channel)["timeout"]):
            external_id = sender(notification) or ""
    except IntegrationError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - a bug in one channel must not lose the row
        logger.exception("delivery of notification %s crashed", notification_id)
        error = IntegrationError(f"{exc.__class__.__name__}: {exc}", code="exception")
    duration_ms = int((time.perf_counter() - started) * 1000)
    if error is None or _is_channel_failure(error):
        circuit_record(notification.channel, ok=error is None, error=str(error or ""))

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


def requeue_after() -> timedelta:
    """A queued task that has not run by then is presumed lost (its worker died) and queued again."""
    return timedelta(seconds=float(getattr(settings, "DELIVERY_REQUEUE_AFTER_SECONDS", 600)))


def deliver_due(now: datetime | None = None, limit: int = 500) -> int:
    """The sweep (every minute): one task per row that is due again — retries after backoff,
    rows deferred by pacing, and rows whose worker died (lease expired).

    R3: a row is queued only if this sweep wins the conditional update of its `enqueued_at`
    marker (none, or older than `requeue_after`), so overlapping sweeps and rows still waiting in
    the queue are never queued twice; channels whose circuit is open are not queued at all
    (one probe row per channel once the cool-down has passed)."""
    now = now or timezone.now()
    blocked = circuit_open_channels(now)
    stale = now - requeue_after()
    # A row still `sending` past its lease was claimed by a worker that died: its task is gone.
    fresh = models.Q(enqueued_at__isnull=True) | models.Q(enqueued_at__lt=stale) | models.Q(status=NotificationStatus.SENDING)
    due = list(
        Notification.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
        .filter(fresh)
        .exclude(channel__in=[Channel.IN_APP, *blocked])
        .order_by("next_attempt_at")
        .values_list("pk", "channel")[:limit]
    )
    queued = 0
    for notification_id, channel in due:
        # Only enqueued_at changes (left out of the history), so update() writes no audited change.
        if Notification.objects.filter(pk=notification_id).filter(fresh).update(enqueued_at=now):
            schedule(notification_id, channel)
            queued += 1
    return queued
