"""Retention of technical records (R12): webhook receipts and delivered outbox rows are pruned after
a configurable period by the daily schedule `leads.prune_history` (migration 0006).

- `WebhookReceipt`: kept `WEBHOOK_RECEIPT_RETENTION_DAYS` (default 30, at least 1). A replayed
  webhook-id older than 5 minutes is refused by its timestamp anyway; the call robot's event_id
  dedupe needs the receipt only while the vendor may still resend (hours).
- Outbox: external-channel rows (WeCom, robot, e-mail, call robot) that were *delivered*, and
  in-app rows that were delivered *and read*, older than `OUTBOX_RETENTION_DAYS` (default 180, at
  least 7), with their attempt log and history rows. Pending and failed rows are never pruned:
  they are work or evidence of a problem. Unread in-app messages stay in the inbox.

Deletes run in batches by primary key so no transaction holds locks for long, and each batch
is found through an index (cost follows what is pruned, not the table size).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from salesops.models import Channel, Notification, NotificationAttempt, NotificationStatus

from .models import WebhookReceipt

BATCH = 2000


def _days(name: str, default: int, minimum: int) -> int:
    return max(minimum, int(getattr(settings, name, default)))


def _delete_in_batches(queryset, delete_batch) -> int:
    total = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        with transaction.atomic():
            delete_batch(ids)
        total += len(ids)


def _delete_receipts(ids: list[int]) -> None:
    # A queryset delete: AppendOnlyModel refuses instance deletes from features, not retention.
    WebhookReceipt.objects.filter(pk__in=ids).delete()


def _delete_notifications(ids: list[int]) -> None:
    NotificationAttempt.objects.filter(notification_id__in=ids).delete()
    Notification.objects.filter(pk__in=ids).delete()
    # After the rows: deleting them writes a "deleted" history row (simple_history's signal).
    Notification.history.filter(id__in=ids).delete()


def prune_history(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    receipt_cutoff = now - timedelta(days=_days("WEBHOOK_RECEIPT_RETENTION_DAYS", 30, 1))
    outbox_cutoff = now - timedelta(days=_days("OUTBOX_RETENTION_DAYS", 180, 7))
    receipts = _delete_in_batches(WebhookReceipt.objects.filter(received_at__lt=receipt_cutoff), _delete_receipts)
    delivered = Notification.objects.filter(status=NotificationStatus.DELIVERED, delivered_at__lt=outbox_cutoff).filter(
        ~Q(channel=Channel.IN_APP) | Q(read_at__isnull=False)
    )
    notifications = _delete_in_batches(delivered, _delete_notifications)
    return {"receipts": receipts, "notifications": notifications}
