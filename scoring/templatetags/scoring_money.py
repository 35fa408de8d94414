"""{{ amount|yuan }} → ¥8,000.00 — the same in every language (Chinese finance groups by thousands)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def yuan(value) -> str:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    return f"¥{amount:,.2f}"
