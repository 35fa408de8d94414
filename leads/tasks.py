"""Background jobs of the leads app: thin, take ids, safe to run twice."""

from __future__ import annotations


def sweep() -> dict:
    """Every minute (schedule 'leads.sweep'): escalate overdue leads, retry unassigned ones."""
    from .services import leads_sweep

    return leads_sweep()


def escalate_lead(lead_id: int) -> bool:
    """One-off check at a lead's acknowledgement deadline (created at assignment)."""
    from .services import lead_escalate

    return lead_escalate(lead_id=lead_id)


def prune_history() -> dict:
    """Daily (schedule 'leads.prune_history'): webhook receipts and delivered outbox rows past
    their retention period (R12)."""
    from .housekeeping import prune_history as prune

    return prune()
