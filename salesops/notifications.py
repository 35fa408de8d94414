"""The notification outbox: write a row with the business change; a task delivers it.

`notification_enqueue` is the only way features send anything. Delivery (channels, retries,
backoff, WeCom token handling) lives in `salesops.delivery`.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Channel, Notification, NotificationStatus


def notification_enqueue(
    *,
    recipient,
    title: str,
    body: str = "",
    url: str = "",
    channel: str = Channel.IN_APP,
    payload: dict | None = None,
    dedupe_key: str | None = None,
) -> Notification:
    """Create the outbox row (idempotent on `dedupe_key`) and schedule delivery after commit."""
    if dedupe_key:
        existing = Notification.objects.filter(dedupe_key=dedupe_key).first()
        if existing:
            return existing
    notification = Notification(
        recipient=recipient,
        channel=channel,
        title=title[:200],
        body=body,
        url=url,
        payload=payload or {},
        dedupe_key=dedupe_key,
    )
    if channel == Channel.IN_APP:
        # The inbox is the database itself: written is delivered.
        notification.status = NotificationStatus.DELIVERED
        notification.delivered_at = timezone.now()
    else:
        notification.enqueued_at = timezone.now()  # queued on commit below (R3: the sweep skips it)
    try:
        with transaction.atomic():
            notification.save()
    except IntegrityError:
        return Notification.objects.get(dedupe_key=dedupe_key)
    if notification.status == NotificationStatus.PENDING:
        from . import delivery

        transaction.on_commit(lambda: delivery.schedule(notification.pk))
    return notification
