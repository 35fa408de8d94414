"""D2 — the three process-health KPIs: definitions, working days with 调休, breakdowns, trend
charts, drill-down, and who may see which row."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards.kpis import Scope, kpi_cards, measure
from dashboards.models import Kpi, Threshold
from dashboards.periods import Period
from salesops.models import ActivityKind

from ..factories import CustomerFactory, RepFactory, UserFactory
from .conftest import at
from .factories import earn, act, make_deal, make_lead

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def _value(kpi, scope, period, group=None, keys=None):
    cells = measure(kpi, [period.span], scope, group, keys=keys)
    return {key: cells[key][0].value for key in cells} if group else cells[None][0].value


# --- definitions -------------------------------------------------------------------------------


def test_lead_timeliness_is_the_median_minutes_from_assignment_to_first_contact(alice, bob, charlie, team_a):
    """D2/D7 KPI 1: median over ALL the leads first assigned that day (Asia/Shanghai); one not
    contacted yet counts as still running (now − assignment)."""
    day = Period.containing("day", date(2026, 3, 10))
    for minutes, rep in ((30, alice), (90, alice), (200, alice), (60, bob), (500, charlie)):
        assigned = at(day.start, 0, 5)  # 16:05 UTC the day before: still the 10th in Shanghai
        make_lead(assignee=rep, assigned_at=assigned, first_effective_contact_at=assigned + timedelta(minutes=minutes))
    make_lead(assignee=alice, assigned_at=at(day.start, 9))  # not contacted yet: running, 1440 min by tomorrow 9:00
    make_lead(assignee=alice, assigned_at=at("2026-03-09", 23, 50), first_effective_contact_at=at(day.start, 9))  # the 9th
    with time_machine.travel(at("2026-03-11", 9), tick=False):
        assert _value(Kpi.LEAD_TIMELINESS, Scope.company(), day) == 145.0  # 30 60 90 | 200 500 1440
        assert _value(Kpi.LEAD_TIMELINESS, Scope.team(team_a.pk), day) == 90.0  # 30 60 90 200 1440
        assert _value(Kpi.LEAD_TIMELINESS, Scope.rep(alice.pk), day) == 145.0  # 30 90 200 1440
        assert _value(Kpi.LEAD_TIMELINESS, Scope.company(), day, "rep", [alice.pk, bob.pk, charlie.pk]) == {
            alice.pk: 145.0, bob.pk: 60.0, charlie.pk: 500.0
        }


def test_action_fullness_is_evidence_actions_per_rep_per_working_day_with_tiaoxiu(alice, bob, carol, team_a):
    """D2 KPI 2: 2026-02-09..15 has six working days — Monday to Friday plus Saturday the 14th, a
    调休 working day; Sunday the 15th is 春节. Weekend actions still count as actions."""
    week = Period.containing("week", date(2026, 2, 11))
    for day in (9, 10, 11, 12, 13, 14):
        act(alice, at(f"2026-02-{day:02d}"), n=6)
        act(alice, at(f"2026-02-{day:02d}"), kind=ActivityKind.CALL, n=5)  # calls are not evidence
    act(alice, at("2026-02-15"), kind=ActivityKind.VOICE_MEMO, n=3)
    act(carol, at("2026-02-10"), kind=ActivityKind.APPROVAL, n=7)  # a supervisor is not "per rep"
    with time_machine.travel(at("2026-02-20"), tick=False):
        assert _value(Kpi.ACTION_FULLNESS, Scope.rep(alice.pk), week) == 6.5  # 39 / 6
        assert _value(Kpi.ACTION_FULLNESS, Scope.rep(bob.pk), week) == 0.0
        assert _value(Kpi.ACTION_FULLNESS, Scope.team(team_a.pk), week) == 3.25  # 39 / (2 × 6)
        cells = measure(Kpi.ACTION_FULLNESS, [week.span], Scope.team(team_a.pk))[None][0]
        assert cells.detail == {"working_days": 6, "reps": 2, "rep_days": 12} and cells.n == 39
        # The 春节 holidays are not working days: the following week (16–22) has none at all.
        assert _value(Kpi.ACTION_FULLNESS, Scope.rep(alice.pk), week.shifted(1)) is None


def test_action_fullness_counts_completed_days_only_except_today_on_its_own(alice):
    """D2 KPI 2: a week in progress is measured up to yesterday; "today" alone shows so far."""
    for day in (9, 10, 11):
        act(alice, at(f"2026-03-{day:02d}", 9), n=4)
    with time_machine.travel(at("2026-03-11", 15), tick=False):
        assert _value(Kpi.ACTION_FULLNESS, Scope.rep(alice.pk), Period.containing("week", date(2026, 3, 11))) == 4.0
        assert _value(Kpi.ACTION_FULLNESS, Scope.rep(alice.pk), Period.containing("day", date(2026, 3, 11))) == 4.0
        act(alice, at("2026-03-11", 14), n=2)
        assert _value(Kpi.ACTION_FULLNESS, Scope.rep(alice.pk), Period.containing("week", date(2026, 3, 11))) == 4.0
        assert _value(Kpi.ACTION_FULLNESS, Scope.rep(alice.pk), Period.containing("day", date(2026, 3, 11))) == 6.0


def test_collaboration_density_averages_distinct_reps_per_closed_customer(alice, bob, charlie, team_a, team_b):
    """D2/D7 KPI 3: reps who EARNED POINTS (scoring Contribution) on the customer in the lookback
    (180 days) before the close, averaged over the customers won in the period (a customer won
    twice counts once). Any other activity — an acknowledgement, a call that scored nothing — does
    not make a rep a collaborator."""
    closed = at("2026-03-10", 15)
    shared, solo = CustomerFactory(), CustomerFactory()
    earn(alice, closed - timedelta(days=20), customer=shared)
    earn(bob, closed - timedelta(days=179), customer=shared)
    earn(charlie, closed - timedelta(hours=1), customer=shared)
    earn(charlie, closed - timedelta(days=200), customer=solo)  # too long before
    earn(bob, closed + timedelta(hours=1), customer=solo)  # after the close
    earn(alice, closed - timedelta(days=2), customer=solo)
    earn(bob, closed - timedelta(days=4), customer=solo, held=True)  # held for review, undecided: not earned (yet)
    for rep in (bob, charlie):  # activity without points: acknowledged, called — not collaboration
        act(rep, closed - timedelta(days=3), customer=solo, kind=ActivityKind.LEAD_ACKNOWLEDGED)
        act(rep, closed - timedelta(days=3), customer=solo, kind=ActivityKind.CALL)
    make_deal(owner=alice, customer=shared, closed_at=closed)
    make_deal(owner=alice, customer=shared, closed_at=closed + timedelta(days=1))
    make_deal(owner=alice, customer=solo, closed_at=closed)
    make_deal(owner=charlie, customer=CustomerFactory(), closed_at=closed, status="lost")
    week = Period.containing("week", date(2026, 3, 10))
    assert _value(Kpi.COLLABORATION_DENSITY, Scope.company(), week) == 2.0  # (3 + 1) / 2
    assert _value(Kpi.COLLABORATION_DENSITY, Scope.company(), week, "team", [team_a.pk, team_b.pk]) == {
        team_a.pk: 2.0, team_b.pk: None
    }
    assert _value(Kpi.COLLABORATION_DENSITY, Scope.rep(charlie.pk), week) == 3.0
    assert _value(Kpi.COLLABORATION_DENSITY, Scope.team(team_b.pk), week) is None


def test_kpi_cards_carry_a_trend_ending_with_the_period(alice):
    """D2: by day / week / month, the card's last trend point is the period itself."""
    for kind, length in (("day", 14), ("week", 12), ("month", 12)):
        period = Period.containing(kind, date(2026, 3, 10))
        card = kpi_cards(Scope.rep(alice.pk), period)[0]
        assert len(card.trend) == length and card.trend[-1][0] == period


# --- pages and access ---------------------------------------------------------------------------


def test_director_sees_the_company_and_every_team(client, diana, alice, charlie, team_a, team_b):
    """D2: per team for the director, with links down to each team."""
    client.force_login(diana)
    page = client.get("/kpis/?period=week&date=2026-03-10").content.decode()
    assert "全公司" in page and "杭州一组" in page and "宁波一组" in page
    assert f"?team={team_a.pk}" in page
    assert page.count("<svg") == 3 and "一键优化建议" in page
    assert client.get(f"/kpis/?team={team_b.pk}").status_code == 200
    assert client.get(f"/kpis/?rep={charlie.pk}").status_code == 200


def test_supervisor_sees_their_team_and_its_reps_only(client, carol, alice, bob, charlie, team_b):
    """D2/A3: a supervisor's KPIs are their team's, per rep; another team or its rep is a 404."""
    client.force_login(carol)
    page = client.get("/kpis/").content.decode()
    assert "杭州一组" in page and "艾丽" in page and "鲍勃" in page and "查理" not in page
    assert client.get(f"/kpis/?rep={alice.pk}").status_code == 200
    assert client.get(f"/kpis/?team={team_b.pk}").status_code == 404
    assert client.get(f"/kpis/?rep={charlie.pk}").status_code == 404
    assert client.get(f"/kpis/lead_timeliness/records/?rep={charlie.pk}").status_code == 404
    assert client.get("/kpis/?team=abc").status_code == 404


def test_rep_sees_only_their_own_row(client, alice, bob, team_a):
    """D2/A3: a rep may see their own KPI row; anybody else's is a 404."""
    client.force_login(alice)
    page = client.get("/kpis/").content.decode()
    assert "艾丽" in page and "鲍勃" not in page
    assert client.get(f"/kpis/?rep={alice.pk}").status_code == 200
    assert client.get(f"/kpis/?rep={bob.pk}").status_code == 404
    assert client.get(f"/kpis/?team={team_a.pk}").status_code == 404
    assert client.get(f"/kpis/action_fullness/records/?rep={bob.pk}").status_code == 404
    assert client.get("/kpis/action_fullness/records/").status_code == 200


def test_user_without_sales_profile_gets_404(client):
    client.force_login(UserFactory(username="visitor"))
    assert client.get("/kpis/").status_code == 404
    assert client.get("/kpis/lead_timeliness/suggestions/").status_code == 404


def test_kpi_page_htmx_fragment_has_no_page_around_it(client, diana):
    """D2: switching period swaps #kpi-body only."""
    client.force_login(diana)
    response = client.get("/kpis/?period=month", headers=HX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and "kpi-card" in body


def test_drill_down_lists_the_records_behind_each_number(client, carol, alice, charlie):
    """D2: from the number to the leads, actions and closed customers behind it."""
    day = date(2026, 3, 10)
    lead = make_lead(assignee=alice, contact_name="张主任", assigned_at=at(day, 9), first_effective_contact_at=at(day, 11, 5))
    make_lead(assignee=charlie, contact_name="外组客户", assigned_at=at(day, 9), first_effective_contact_at=at(day, 9, 30))
    customer = CustomerFactory(name="浙江省人民医院 骨科")
    act(alice, at(day, 10), customer=customer, facts={"label": "门牌照片"})
    earn(alice, at(day, 10), customer=customer)
    make_deal(owner=alice, customer=customer, closed_at=at(day, 16))
    client.force_login(carol)
    query = f"?period=day&date={day.isoformat()}"
    leads = client.get(f"/kpis/lead_timeliness/records/{query}").content.decode()
    assert lead.contact_name in leads and ">125<" in leads and "外组客户" not in leads
    actions = client.get(f"/kpis/action_fullness/records/{query}").content.decode()
    assert "门牌照片" in actions and "浙江省人民医院 骨科" in actions
    customers = client.get(f"/kpis/collaboration_density/records/{query}").content.decode()
    assert "浙江省人民医院 骨科" in customers and "艾丽" in customers
    fragment = client.get(f"/kpis/action_fullness/records/{query}", headers=HX).content.decode()
    assert "<html" not in fragment and "门牌照片" in fragment


def test_kpi_page_query_count_is_constant_as_data_grows(client, diana, team_a, team_b):
    """D2: aggregation in SQL — the page's query count does not grow with leads, actions, deals."""
    client.force_login(diana)

    def grow(n):
        for i in range(n):
            rep = RepFactory(team=team_a if i % 2 else team_b).user
            customer = CustomerFactory()
            moment = at("2026-03-09", 10) - timedelta(days=i)
            make_lead(assignee=rep, customer=customer, assigned_at=moment, first_effective_contact_at=moment + timedelta(minutes=40 + i))
            act(rep, moment, customer=customer, n=3)
            make_deal(owner=rep, customer=customer, closed_at=moment + timedelta(hours=2))

    def queries() -> int:
        with time_machine.travel(at("2026-03-11"), tick=False), CaptureQueriesContext(connection) as captured:
            assert client.get("/kpis/?period=week&date=2026-03-09").status_code == 200
        return len(captured)

    grow(2)
    small = queries()
    grow(10)
    assert queries() == small


def test_threshold_edited_in_admin_changes_the_health_shown(client, olga, alice):
    """D2/A4: thresholds (healthy value, trigger value, run length, window) are admin-editable."""
    day = date(2026, 3, 10)
    make_lead(assignee=alice, assigned_at=at(day, 9), first_effective_contact_at=at(day, 10, 30))  # 90 min
    threshold = Threshold.objects.get(kpi=Kpi.LEAD_TIMELINESS)
    assert threshold.health(90) == "healthy"
    client.force_login(olga)
    response = client.post(
        f"/admin/dashboards/threshold/{threshold.pk}/change/",
        {"kpi": Kpi.LEAD_TIMELINESS, "healthy_value": "60", "trigger_value": "80", "run_length": "2", "window": "day",
         "due_in_days": "2", "lookback_days": "180", "min_sample": "20", "contact_basis": "all", "sop_title": "", "sop_url": "", "training_video_title": "", "training_video_url": ""},
    )
    assert response.status_code == 302
    threshold.refresh_from_db()
    assert (threshold.healthy_value, threshold.run_length) == (60, 2)
    assert threshold.health(90) == "alert" and threshold.history.filter(history_user=olga).exists()
    bad = client.post(
        f"/admin/dashboards/threshold/{threshold.pk}/change/",
        {"kpi": Kpi.LEAD_TIMELINESS, "healthy_value": "200", "trigger_value": "100", "run_length": "2", "window": "day",
         "due_in_days": "2", "lookback_days": "180"},
    )
    assert bad.status_code == 200 and "触发值不能低于健康值" in bad.content.decode()


def test_settled_periods_are_computed_once_and_read_from_the_cache(client, diana, alice):
    """D2: a past month's trend does not change: the second view reads it from the cache, with the
    same numbers and fewer queries; the open period is always computed."""
    for offset in range(1, 40):
        moment = at("2026-03-20", 10) - timedelta(days=offset)
        act(alice, moment, n=4)
        make_lead(assignee=alice, assigned_at=moment, first_effective_contact_at=moment + timedelta(minutes=70))
    client.force_login(diana)

    def view():
        with time_machine.travel(at("2026-03-20", 10), tick=False), CaptureQueriesContext(connection) as captured:
            page = client.get("/kpis/?period=month&date=2026-02-01").content.decode()
        return page, len(captured)

    first_page, first_queries = view()
    second_page, second_queries = view()
    values = re.compile(r'class="kpi-value"><span>([^<]*)</span>')
    assert values.findall(second_page) == values.findall(first_page) and values.findall(first_page)[0] == "70"
    assert second_queries < first_queries
    with time_machine.travel(at("2026-03-20", 10), tick=False), CaptureQueriesContext(connection) as captured:
        client.get("/kpis/?period=month&date=2026-03-01")
    assert len(captured) >= first_queries - 3  # this month is open: computed again
