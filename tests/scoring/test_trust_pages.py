"""T2 pages stay cheap: the review queue and the statement's exception list cost the same number of
queries whatever the number of held or capped actions (STYLE habit 5)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scoring.services import scoring_sweep

from ..factories import CustomerFactory
from .factories import visit


def _held_visits(rep, count: int) -> None:
    for number in range(count):
        customer = CustomerFactory(owner=rep)
        at = timezone.now() - timedelta(hours=number + 1)
        visit(rep=rep, customer=customer, at=at, is_solution_demo=True, flagged=True, flags=["repeat_photo"])
        visit(rep=rep, customer=customer, at=at + timedelta(minutes=5), needs_count=3)
        visit(rep=rep, customer=customer, at=at + timedelta(minutes=10), needs_count=3)  # capped
    scoring_sweep()


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_review_queue_and_statement_queries_do_not_grow_with_rows(client, alice, carol):
    """T2: 2 vs 12 held and capped actions — same query count on both pages."""
    _held_visits(alice, 2)
    client.force_login(carol)
    small_queue = _count(client, "/scoring/reviews/")
    client.force_login(alice)
    small_statement = _count(client, "/scoring/statement/")
    _held_visits(alice, 10)
    client.force_login(carol)
    assert _count(client, "/scoring/reviews/") == small_queue
    client.force_login(alice)
    assert _count(client, "/scoring/statement/") == small_statement
    print(f"queries: review queue {small_queue}, statement {small_statement}")
