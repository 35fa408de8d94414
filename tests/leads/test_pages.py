"""Lead pages with personas: my leads (new/overdue first), team leads (supervisor), lead detail
scoping (A3: a rep guessing an id gets 404), the in-app inbox and its htmx badge (L5)."""

from __future__ import annotations

import pytest
import time_machine

from tests.factories import consented_intake
from leads.models import Lead, LeadStatus
from leads.services import lead_acknowledge, lead_intake
from salesops.models import Channel, Notification

pytestmark = pytest.mark.django_db


def _lead(name: str, phone: str) -> Lead:
    return lead_intake(data=consented_intake(contact_name=name, phone=phone)).lead


@pytest.fixture
def alices_leads(alice):
    """Three of alice's leads: acknowledged (old), overdue, fresh."""
    with time_machine.travel("2026-11-27 08:00:00 +0800", tick=False):
        done = _lead("已接收客户", "+8613800000001")
        lead_acknowledge(lead=done, by=alice)
    with time_machine.travel("2026-11-27 08:50:00 +0800", tick=False):
        overdue = _lead("超时客户", "+8613800000002")
    with time_machine.travel("2026-11-27 08:59:30 +0800", tick=False):
        fresh = _lead("新客户", "+8613800000003")
    return done, overdue, fresh


def test_my_leads_lists_overdue_then_new_then_the_rest(client, alice, alices_leads):
    """Rep screen: overdue first (red), then new (to acknowledge), then acknowledged."""
    done, overdue, fresh = alices_leads
    client.force_login(alice)
    with time_machine.travel("2026-11-27 09:00:00 +0800", tick=False):
        page = client.get("/leads/").content.decode()
    positions = [page.index(f'data-lead="{lead.pk}"') for lead in (overdue, fresh, done)]
    assert positions == sorted(positions)
    assert "超时未接收" in page and page.count('class="primary">接收</button>') == 2


def test_my_leads_refresh_fragment(client, alice, alices_leads):
    """htmx: the list refreshes itself as a fragment (no <html>)."""
    client.force_login(alice)
    response = client.get("/leads/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.content.decode() and 'id="lead-list"' in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_my_leads_query_count_is_constant(client, alice, django_assert_max_num_queries):
    """The list does not run a query per lead."""
    for index in range(25):
        _lead(f"客户{index}", f"+86138000100{index:02d}")
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        client.get("/leads/")


def test_a_rep_guessing_another_leads_id_gets_404(client, alice, charlie, alices_leads):
    """A3: charlie (another team) cannot open alice's lead, nor act on it."""
    lead = alices_leads[2]
    client.force_login(charlie)
    assert client.get(f"/leads/{lead.pk}/").status_code == 404
    assert client.post(f"/leads/{lead.pk}/acknowledge/").status_code == 404
    assert client.get("/leads/999999/").status_code == 404


def test_supervisor_sees_the_team_and_the_unassigned_pool(client, carol, dave, alice, alices_leads):
    """A3: carol (team A) sees alice's leads and unassigned ones; dave (team B) does not see team A's."""
    alice.rep.on_duty = False
    alice.rep.save()
    pool = _lead("待分配客户", "+8613800000009")
    assert pool.assignee is None
    client.force_login(carol)
    page = client.get("/leads/team/?state=all").content.decode()
    assert all(f'data-lead="{lead.pk}"' in page for lead in (*alices_leads, pool))
    assert page.index(f'data-lead="{pool.pk}"') < page.index(f'data-lead="{alices_leads[0].pk}"')
    assert client.get(f"/leads/{alices_leads[0].pk}/").status_code == 200
    client.force_login(dave)
    assert client.get(f"/leads/{alices_leads[0].pk}/").status_code == 404


def test_team_leads_is_for_managers_and_has_a_fragment(client, alice, carol, diana, alices_leads):
    client.force_login(alice)
    assert client.get("/leads/team/").status_code == 403
    client.force_login(diana)
    assert client.get("/leads/team/").status_code == 200
    client.force_login(carol)
    fragment = client.get("/leads/team/", headers={"HX-Request": "true"})
    assert "<html" not in fragment.content.decode() and 'id="team-list"' in fragment.content.decode()


def test_team_leads_query_count_is_constant(client, carol, alice, bob, django_assert_max_num_queries):
    for index in range(20):
        _lead(f"客户{index}", f"+86138000200{index:02d}")
    client.force_login(carol)
    with django_assert_max_num_queries(14):
        client.get("/leads/team/")


def test_inbox_badge_counts_unread_in_app_messages(client, alice, alices_leads):
    """L5: the nav badge (htmx fragment, refreshed every 30 s) shows unread in-app notifications;
    reading them clears it."""
    client.force_login(alice)
    unread = Notification.objects.filter(recipient=alice, channel=Channel.IN_APP, read_at__isnull=True).count()
    assert unread == 3
    badge = client.get("/leads/inbox/badge/", headers={"HX-Request": "true"})
    assert badge.content.decode().strip() == "3"
    home = client.get("/").content.decode()
    assert 'hx-get="/leads/inbox/badge/"' in home
    page = client.get("/leads/inbox/").content.decode()
    assert "新线索：新客户" in page and "/leads/ack/" in page
    client.post("/leads/inbox/read/", {})
    assert client.get("/leads/inbox/badge/").content.decode().strip() == ""


def test_inbox_marks_one_read_and_fragment(client, alice, alices_leads):
    client.force_login(alice)
    first = Notification.objects.filter(recipient=alice).first()
    client.post("/leads/inbox/read/", {"id": first.pk, "next": "https://evil.example/"})
    first.refresh_from_db()
    assert first.read_at is not None
    fragment = client.get("/leads/inbox/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and 'id="inbox-items"' in fragment


def test_nav_shows_lead_pages_by_role(client, alice, carol):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "我的线索" in page and "微信录入" in page and "团队线索" not in page
    client.force_login(carol)
    page = client.get("/").content.decode()
    assert "团队线索" in page and "分配规则" in page


def test_lead_detail_shows_history(client, alice, alices_leads):
    """A2: the lead page carries the field-change trail."""
    client.force_login(alice)
    page = client.get(f"/leads/{alices_leads[0].pk}/").content.decode()
    assert "字段变更留痕" in page


def test_not_followed_up_queryset_matches_the_board_rule(alice):
    """D1 contract: open, coalesce(last_contact_at, assigned_at) older than 48 h."""
    from datetime import timedelta

    from django.utils import timezone

    with time_machine.travel("2026-11-20 09:00 +0800", tick=False):
        stale = _lead("旧", "+8613800003001")
    fresh = _lead("新", "+8613800003002")
    now = timezone.now()
    assert set(Lead.objects.not_followed_up(now)) == {stale}
    assert stale.is_not_followed_up(now) and not fresh.is_not_followed_up(now)
    stale.status = LeadStatus.CLOSED
    stale.save()
    assert not Lead.objects.not_followed_up(now + timedelta(days=1)).filter(pk=stale.pk).exists()


def test_lead_pages_are_available_in_english(client, alice, alices_leads, settings):
    """Chinese is the source language; English is available (leads/locale/en)."""
    client.force_login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the language switcher's choice
    page = client.get("/leads/").content.decode()
    assert "My leads" in page and "Acknowledge" in page and "我的线索" not in page
    detail = client.get(f"/leads/{alices_leads[0].pk}/").content.decode()
    assert "Timeline" in detail and "First effective contact" in detail
