"""R12 — housekeeping: the demo's TV token is random per install; webhook receipts and delivered
outbox history are pruned after a configurable period by a scheduled job."""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from leads.housekeeping import prune_history
from leads.models import WebhookReceipt
from salesops.models import Channel, Notification, NotificationAttempt, NotificationStatus

pytestmark = pytest.mark.django_db


def test_demo_tv_token_is_random_per_install():
    """R12: two installs seeded with the same demo seed get different, unguessable TV tokens."""
    from dashboards import demo
    from dashboards.models import TvScreen
    from salesops.demo import DemoContext

    tokens = []
    for _install in range(2):
        TvScreen.objects.all().delete()
        demo.seed(DemoContext(rng=random.Random(2026), stdout=io.StringIO()))
        tokens.append(TvScreen.objects.get().token)
    assert tokens[0] != tokens[1]
    assert all(len(token) >= 32 and not token.startswith("demo-") for token in tokens)


def test_prune_schedule_is_installed_daily():
    """R12: the job is registered like the project's other schedules (a migration)."""
    schedule = Schedule.objects.get(name="leads.prune_history")
    assert schedule.func == "leads.tasks.prune_history" and schedule.schedule_type == Schedule.DAILY


def _notification(key: str, *, channel=Channel.EMAIL, status=NotificationStatus.DELIVERED, age_days=0, read=False, recipient=None):
    at = timezone.now() - timedelta(days=age_days)
    row = Notification.objects.create(
        recipient=recipient, channel=channel, title=key, dedupe_key=key, status=status,
        delivered_at=at if status == NotificationStatus.DELIVERED else None, created_at=at, read_at=at if read else None,
    )
    NotificationAttempt.objects.create(notification=row, attempted_at=at, ok=status == NotificationStatus.DELIVERED)
    return row


def test_prune_removes_only_old_delivered_rows_with_their_attempts_and_history(settings, alice):
    """R12: delivered rows past OUTBOX_RETENTION_DAYS go (attempts and history rows too); recent,
    pending, failed and unread in-app rows stay; receipts past their period go."""
    settings.OUTBOX_RETENTION_DAYS, settings.WEBHOOK_RECEIPT_RETENTION_DAYS = 30, 7
    old = _notification("old-email", age_days=40, recipient=alice)
    old_read_inbox = _notification("old-inbox-read", channel=Channel.IN_APP, age_days=40, read=True, recipient=alice)
    keep = [
        _notification("new-email", age_days=5, recipient=alice),
        _notification("old-failed", status=NotificationStatus.FAILED, age_days=40, recipient=alice),
        _notification("old-pending", status=NotificationStatus.PENDING, age_days=40, recipient=alice),
        _notification("old-inbox-unread", channel=Channel.IN_APP, age_days=40, recipient=alice),
    ]
    WebhookReceipt.objects.create(endpoint="leads", key="old", status_code=201, response={}, received_at=timezone.now() - timedelta(days=8))
    WebhookReceipt.objects.create(endpoint="leads", key="new", status_code=201, response={})
    assert Notification.history.filter(id=old.pk).exists()

    assert prune_history() == {"receipts": 1, "notifications": 2}
    assert set(Notification.objects.values_list("dedupe_key", flat=True)) == {row.dedupe_key for row in keep}
    assert not NotificationAttempt.objects.filter(notification_id__in=[old.pk, old_read_inbox.pk]).exists()
    assert not Notification.history.filter(id__in=[old.pk, old_read_inbox.pk]).exists()
    assert list(WebhookReceipt.objects.values_list("key", flat=True)) == ["new"]
    assert prune_history() == {"receipts": 0, "notifications": 0}  # idempotent


def test_retention_cannot_be_set_below_the_replay_window(settings):
    """R12: a zero or negative period does not wipe receipts a replay still needs."""
    settings.WEBHOOK_RECEIPT_RETENTION_DAYS = 0
    WebhookReceipt.objects.create(endpoint="leads", key="fresh", status_code=201, response={}, received_at=timezone.now() - timedelta(hours=2))
    assert prune_history()["receipts"] == 0
