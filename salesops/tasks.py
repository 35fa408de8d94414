"""Background tasks of the core app. Tasks take ids, load, and call a service; they may run twice."""

from __future__ import annotations


def deliver_notification(notification_id: int) -> str:
    from .delivery import deliver

    return deliver(notification_id)


def deliver_due() -> int:
    """Scheduled every minute (leads migration 'salesops.deliver_due')."""
    from .delivery import deliver_due as sweep

    return sweep()


def privacy_retention() -> dict:
    """Scheduled daily (salesops migration 0009 'salesops.privacy_retention', P5)."""
    from .privacy import retention_run

    return retention_run()
