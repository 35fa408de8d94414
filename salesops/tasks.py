"""Background tasks of the core app. Tasks take ids, load, and call a service; they may run twice."""

from __future__ import annotations


def deliver_notification(notification_id: int) -> None:
    from .delivery_channels import deliver

    deliver(notification_id)
