"""K1: the lead lists read their order from an index and never count or de-duplicate the table:
a bounded number of queries however many leads there are, the same order as before (overdue and
new first), pages without a total, and one shared reassign control instead of a list per row."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from leads.models import AssignmentDecision, Lead, LeadStatus
from leads.services import lead_acknowledge, lead_close, lead_intake

from ..factories import consented_intake

pytestmark = pytest.mark.django_db

NOW = "2026-11-27 09:00:00 +0800"


def _lead(name: str, phone: str) -> Lead:
    return lead_intake(data=consented_intake(contact_name=name, phone=phone)).lead


def _bulk_leads(count: int, **fields) -> None:
    """Many leads at once (the lists must not care how many)."""
    start = timezone.now() - timedelta(days=30)
    Lead.objects.bulk_create(
        [Lead(contact_name=f"批量{index}", phone=f"+86139{index:08d}", created_at=start + timedelta(minutes=index), **fields) for index in range(count)]
    )


def test_queue_rank_follows_status_on_every_write_path(alice):
    """K1: the stored rank is computed by the database from the status — save, update() and
    bulk_create alike — so no door can leave it stale."""
    lead = _lead("客户", "+8613800000001")
    assert Lead.objects.get(pk=lead.pk).queue_rank == 0
    lead_acknowledge(lead=lead, by=alice)
    assert Lead.objects.get(pk=lead.pk).queue_rank == 2
    lead_close(lead=Lead.objects.get(pk=lead.pk), by=alice, status=LeadStatus.CLOSED, reason="无需求")
    assert Lead.objects.get(pk=lead.pk).queue_rank == 4
    _bulk_leads(2, status=LeadStatus.CONTACTED)
    assert set(Lead.objects.filter(contact_name__startswith="批量").values_list("queue_rank", flat=True)) == {3}


def test_team_list_query_count_does_not_grow_with_leads(client, carol, alice, bob, django_assert_max_num_queries):
    """K1: the supervisor's list, all states, in ≤ 10 queries with 40 leads or 400."""
    for index in range(5):
        _lead(f"客户{index}", f"+86138000200{index:02d}")
    _bulk_leads(40, status=LeadStatus.CLOSED, assignee=alice)
    client.force_login(carol)
    client.get("/leads/team/?state=all")
    with django_assert_max_num_queries(10) as small:
        first = client.get("/leads/team/?state=all")
    _bulk_leads(400, status=LeadStatus.CLOSED, assignee=bob)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        client.get("/leads/team/?state=all")
    assert first.status_code == 200
    sql = " ".join(query["sql"].upper() for query in large.captured_queries if "LEADS_LEAD" in query["sql"].upper())
    assert "DISTINCT" not in sql and "COUNT(" not in sql  # no de-duplication, no total
    assert "CASE" not in sql  # the order is stored (queue_rank), not computed per request
    with django_assert_max_num_queries(10):  # a later page counts only the short segments it skips
        assert 'data-lead="' in client.get("/leads/team/?state=all&page=3").content.decode()


@pytest.mark.parametrize("path", ["/leads/", "/leads/?state=all", "/leads/?q=客户", "/leads/?state=all&page=2"])
def test_my_list_takes_at_most_ten_queries(client, alice, path, django_assert_max_num_queries):
    """K1: the rep's list in its variants (open, all, search, a later page) in ≤ 10 queries."""
    alice.rep.capacity = 1000
    alice.rep.save()
    for index in range(35):
        _lead(f"客户{index}", f"+86138000100{index:02d}")
    client.force_login(alice)
    with django_assert_max_num_queries(10):
        assert client.get(path).status_code == 200


def test_director_list_pages_through_every_segment_in_order(client, diana, alice):
    """K1: overdue and new first, then assigned within the timeout, then acknowledged, then closed —
    newest first in each — and paging walks across the segments without skipping or repeating."""
    alice.rep.capacity = 1000
    alice.rep.save()
    with time_machine.travel("2026-11-27 07:00:00 +0800", tick=False):
        acknowledged = [_lead(f"已接收{index}", f"+861380000{index:04d}") for index in range(20)]
        for lead in acknowledged:
            lead_acknowledge(lead=lead, by=alice)
        closed = _lead("已关闭", "+8613800009999")
        lead_close(lead=closed, by=alice, status=LeadStatus.CLOSED, reason="无需求")
    with time_machine.travel("2026-11-27 08:50:00 +0800", tick=False):
        overdue = [_lead(f"超时{index}", f"+861381000{index:04d}") for index in range(20)]
    with time_machine.travel("2026-11-27 08:59:30 +0800", tick=False):
        fresh = [_lead(f"刚分配{index}", f"+861382000{index:04d}") for index in range(15)]
    client.force_login(diana)
    seen: list[int] = []
    with time_machine.travel(NOW, tick=False):
        for number in (1, 2, 3):
            html = client.get(f"/leads/team/?state=all&page={number}").content.decode()
            seen += [int(part.split('"', 1)[0]) for part in html.split('data-lead="')[1:]]
    expected = [*reversed(overdue), *reversed(fresh), *reversed(acknowledged), closed]
    assert seen == [lead.pk for lead in expected]
    with time_machine.travel(NOW, tick=False):
        last = client.get("/leads/team/?state=all&page=2").content.decode()
        assert "page=1" in last and "page=3" not in last  # no total, but no link past the end
        open_only = client.get("/leads/team/?page=2").content.decode()
    assert f'data-lead="{closed.pk}"' not in open_only
    assert client.get("/leads/team/?page=abc").status_code == 200  # a bad page number is page 1


def test_team_page_has_one_reassign_control_not_one_per_row(client, carol, alice, bob):
    """K1/K5: the list of reps is printed once for the page; each open row only picks the lead."""
    leads = [_lead(f"客户{index}", f"+86138000300{index:02d}") for index in range(12)]
    client.force_login(carol)
    html = client.get("/leads/team/").content.decode()
    assert html.count('<select name="to"') == 1
    assert html.count('name="lead"') == len(leads)


def test_shared_reassign_control_reassigns_the_picked_lead_through_the_same_door(client, carol, alice, bob, dave, charlie):
    """K1: the shared control goes through the lead's access door and the reassignment service:
    a manual decision is recorded; another team's supervisor gets 404; a rep gets 403; no pick
    is a message, not a 500."""
    lead = _lead("客户", "+8613800004001")
    target = bob if lead.assignee_id != bob.pk else alice
    client.force_login(carol)
    response = client.post("/leads/reassign/", {"lead": lead.pk, "to": target.pk, "reason": "客户指定", "next": "team"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.assignee_id == target.pk
    assert AssignmentDecision.objects.filter(lead=lead, kind="manual", chosen=target).exists()
    assert client.post("/leads/reassign/", {"to": target.pk, "reason": "x"}, follow=True).status_code == 200
    client.force_login(dave)
    assert client.post("/leads/reassign/", {"lead": lead.pk, "to": target.pk, "reason": "抢单"}).status_code == 404
    client.force_login(alice)
    assert client.post("/leads/reassign/", {"lead": lead.pk, "to": bob.pk, "reason": "x"}).status_code in (403, 404)
