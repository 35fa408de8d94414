"""U1 The app shell per role: 4–5 tabs, the rest under "更多", a home screen with today's numbers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from leads.models import Lead, LeadStatus

from ..factories import CustomerFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _tabs(page: str) -> list[str]:
    nav = page[page.index('<nav class="nav appnav"'):page.index('<details class="more"')]
    return re.findall(r'<a class="tab" href="([^"]+)"', nav)


def _more(page: str) -> list[str]:
    sheet = page[page.index('<div class="more-sheet">'):page.index("</details>")]
    return re.findall(r'<a href="([^"]+)"', sheet)


@pytest.mark.parametrize("who", ["alice", "carol", "diana", "olga"])
def test_every_role_gets_four_or_five_tabs_and_the_rest_under_more(client, who, request):
    """U1 4–5 destinations per role in the tab bar, every other menu item one tap away in 更多."""
    user = request.getfixturevalue(who)
    client.force_login(user)
    page = client.get("/").content.decode()
    tabs, more = _tabs(page), _more(page)
    assert 4 <= len(tabs) <= 5, tabs
    assert tabs[0] == "/"
    assert not set(tabs) & set(more)
    assert len(tabs) + len(more) >= 8  # nothing was dropped: the rest is in the sheet
    assert 'action="/search/"' in page


def test_rep_tabs_and_no_tv_board_anywhere_in_the_menu(client, alice):
    """U1 A rep's tabs are leads, visits and messages; the TV board is not in their menu."""
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert _tabs(page) == ["/", "/leads/", "/visits/", "/visits/tasks/", "/leads/inbox/"]
    assert "/dashboards/board/" not in _tabs(page) + _more(page)


@pytest.mark.django_db
def test_rep_home_shows_open_leads_with_countdown_visits_today_and_points(client, alice, carol, django_assert_max_num_queries):
    """U1 Rep home: open leads with the acknowledgement countdown, today's visits, points this month."""
    from leads.models import AssignmentRules
    from visits import services as visit_services
    from visits.library import MEDICAL_CODE, install_library
    from visits.models import TemplateModule, VisitTemplate

    moment = datetime(2026, 3, 10, 9, 0, tzinfo=SHANGHAI)
    with time_machine.travel(moment, tick=False):
        minutes = AssignmentRules.live().ack_timeout_minutes
        for index in range(3):
            Lead.objects.create(contact_name=f"客户{index}", phone=f"1380000000{index}", product_model="AK",
                                status=LeadStatus.ASSIGNED, assignee=alice, assigned_at=timezone.now() - timedelta(minutes=1 + index))
        Lead.objects.create(contact_name="已关", phone="13800000009", status=LeadStatus.CLOSED, assignee=alice)
        customer = CustomerFactory(owner=alice)
        medical = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}[MEDICAL_CODE]
        visit_services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=moment.date(), by=alice)
        client.force_login(alice)
        with django_assert_max_num_queries(8):  # session, user, rep, rules, leads, visits, points, activities
            page = client.get("/").content.decode()
    stats = page[page.index('class="stats"'):page.index("</section>")]
    assert "我的待办线索" in stats and '<strong class="stat-value">3</strong>' in stats
    assert "待接收 3 条" in stats
    deadline = (moment - timedelta(minutes=3) + timedelta(minutes=minutes)).isoformat()
    assert f'datetime="{deadline}"' in stats  # the oldest unacknowledged lead's deadline
    assert "今日拜访" in stats and '<strong class="stat-value">0/1</strong>' in stats
    assert "本月贡献值" in stats


@pytest.mark.django_db
def test_supervisor_and_director_homes_show_their_numbers(client, carol, diana, django_assert_max_num_queries):
    """U1 Supervisor: overdue leads, flagged evidence, pending approvals; director: three KPIs + exceptions."""
    client.force_login(carol)
    with django_assert_max_num_queries(16):
        page = client.get("/").content.decode()
    for label in ("超时未接收的线索", "有警示的拜访证据", "待审核的贡献值", "待审批的折扣"):
        assert label in page
    client.force_login(diana)
    with django_assert_max_num_queries(40):
        page = client.get("/").content.decode()
    for label in ("线索转化时效", "动作饱满度", "协同密度", "待处理的异常"):
        assert label in page


@pytest.mark.django_db
def test_global_search_finds_only_what_the_user_may_see(client, alice, charlie):
    """U6 The shell's search box: customers of mine are found, a colleague's are not."""
    mine = CustomerFactory(owner=alice, name="骨科甲")
    CustomerFactory(owner=charlie, name="骨科乙")
    client.force_login(alice)
    page = client.get("/search/", {"q": "骨科"}).content.decode()
    assert f"/customers/{mine.pk}/" in page and "骨科乙" not in page
    assert client.get("/search/", {"q": "x" * 500}).status_code == 200
