"""K1: every list page answers in ≤ 10 queries, whatever the number of rows — customers, visits,
quotes, deals, receivables, the bank-statement review queue, interventions — for a rep, a
supervisor and a director. Counted with twice the rows: the count must not move."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from visits.library import MEDICAL_CODE, install_library
from visits.models import TemplateModule, VisitTemplate

from ..factories import CustomerFactory
from ..visits.factories import VisitTaskFactory
from .helpers import make_won_deal, plan_of

pytestmark = pytest.mark.django_db

LIST_PAGES = ("/customers/", "/visits/tasks/", "/cash/", "/cash/deals/", "/cash/receivables/", "/cash/review/", "/interventions/")
BUDGET = 10


def _rows(alice, customer, product, count: int) -> None:
    template = {row.code: row for row in install_library(VisitTemplate, TemplateModule)}[MEDICAL_CODE]
    for _ in range(count):
        make_won_deal(customer, alice, product, plan=plan_of(("16159", -5), ("16159", 25)))
        VisitTaskFactory(rep=alice, customer=CustomerFactory(owner=alice), template=template)


def _counts(client, users) -> dict[tuple[str, str], int]:
    counts = {}
    for user in users:
        client.force_login(user)
        for url in LIST_PAGES:
            client.get(url)  # warm: per-process caches, session
            with CaptureQueriesContext(connection) as queries:
                status = client.get(url).status_code
            if status == 200:
                counts[(user.username, url)] = len(queries.captured_queries)
    return counts


def test_list_pages_stay_within_ten_queries_as_rows_grow(client, alice, carol, diana, customer_a, hip):
    """K1: ≤ 10 queries per list page and persona, and the same count with twice the rows."""
    _rows(alice, customer_a, hip, 3)
    small = _counts(client, (alice, carol, diana))
    _rows(alice, customer_a, hip, 3)
    large = _counts(client, (alice, carol, diana))
    print("K1 list query counts:", large)
    assert {key: count for key, count in large.items() if count > small[key]} == {}
    assert {key: count for key, count in large.items() if count > BUDGET} == {}
