"""Delivery of outbox rows (L5). Channels other than in-app are implemented by the leads work;
until a channel is configured its rows stay pending and visible in admin — nothing is dropped."""

from __future__ import annotations

from django_q.tasks import async_task


def schedule(notification_id: int) -> None:
    async_task("salesops.tasks.deliver_notification", notification_id, task_name=f"notify-{notification_id}")
