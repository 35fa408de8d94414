"""Building quotes and deals through the real services, for tests."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from leads.cash import deals, quotes

DATA = Path(__file__).parent / "data"


def make_quote(customer, rep, lines, *, send: bool = False):
    """lines: [(product, quantity, discount_percent)]"""
    quote = quotes.quote_create(customer=customer, by=rep)
    version = quote.latest_version()
    for product, quantity, discount in lines:
        quotes.quote_line_add(version=version, product=product, by=rep, quantity=quantity, discount_percent=Decimal(discount))
    version.refresh_from_db()
    if send:
        quotes.quote_version_send(version=version, by=rep)
        version.refresh_from_db()
    return quote, version


def make_won_deal(customer, rep, product, *, quantity: int = 1, plan=None, at=None):
    """A deal through quote → send → confirm → win. plan: [(Decimal amount, date due)]."""
    _quote, version = make_quote(customer, rep, [(product, quantity, "0")], send=True)
    quotes.quote_version_confirm(version=version, by=rep)
    return deals.deal_win(version=version, by=rep, plan=plan, at=at)


def plan_of(*amounts_and_days) -> list[tuple[Decimal, date]]:
    today = timezone.localdate()
    return [(Decimal(amount), today + timedelta(days=days)) for amount, days in amounts_and_days]
