"""D6 (working-day calendar coverage and the State Council notice), D7 (one set of KPI
definitions) and D8 (anomalies respect employment dates; a team that contacts nobody alarms)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
import time_machine

from dashboards.anomalies import evaluate_anomalies
from dashboards.holidays import holiday_notice_import, parse_notice
from dashboards.kpis import Scope, measure
from dashboards.models import HolidayNotice, InterventionKind, Kpi, Threshold, WorkdayOverride
from dashboards.periods import Period
from dashboards.tasks import calendar_check_job
from dashboards.workdays import calendar_gap, is_working_day, uncovered_days
from leads.services import lead_reassign
from salesops.models import Notification

from .conftest import at
from .factories import act, make_lead

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"


def _rep_dates(user, started_on=None, left_on=None):
    rep = user.rep
    rep.started_on, rep.left_on = started_on, left_on
    rep.full_clean()
    rep.save()


# --- D6 ------------------------------------------------------------------------------------------


def test_the_state_council_notice_parses_to_the_official_schedule():
    """D6: the 2026 notice as published, pasted whole, yields exactly chinesecalendar's 2026 days."""
    parsed = parse_notice((DATA / "notice-2026.txt").read_text(encoding="utf-8"), 2026)
    assert parsed.errors == []
    assert len(parsed.holidays) == 33 and len(parsed.workdays) == 6
    for item in parsed.days:
        assert chinese_calendar.is_workday(item.day) is item.is_workday, item
    assert [d.day for d in parsed.workdays][:2] == [date(2026, 1, 4), date(2026, 2, 14)]


def test_bad_notice_lines_are_named():
    """D6/R4: a line that says 放假 without a readable date is refused by line number, in Chinese."""
    parsed = parse_notice("一、元旦：1月1日放假。\n二、春节：放假调休，共8天。\n2027-02-30 休", 2027)
    assert any("第 2 行" in e for e in parsed.errors) and any("第 3 行" in e for e in parsed.errors)
    assert parse_notice("随便写点", 2027).errors


def test_calendar_edge_banner_daily_ops_notice_and_admin_import(client, diana, olga):
    """D6: 60 days before the library's last day the pages warn and ops are notified once a day;
    the admin import (paste, preview, confirm) writes overrides with history and covers the year."""
    with time_machine.travel(at("2026-11-15", 8), tick=False):
        assert calendar_gap(date(2026, 11, 15)) == date(2027, 1, 1)
        client.force_login(diana)
        assert "工作日历即将用完" in client.get("/kpis/").content.decode()
        calendar_check_job()
        calendar_check_job()  # the same morning again: no second notification
        sent = Notification.objects.filter(recipient=olga, payload__first_uncovered_day="2027-01-01")
        assert sent.count() == 1 and "2027" in sent.get().body
    with time_machine.travel(at("2026-11-16", 8), tick=False):
        calendar_check_job()
        assert Notification.objects.filter(recipient=olga, payload__first_uncovered_day="2027-01-01").count() == 2

        client.force_login(olga)
        url = "/admin/dashboards/holidaynotice/import/"
        text = "一、元旦：1月1日（周五）至3日（周日）放假，共3天。\n二、春节：2月6日（周六）至14日（周日）放假调休，共9天。2月20日（周六）上班。"
        preview = client.post(url, {"year": 2027, "text": text, "preview": "1"})
        page = preview.content.decode()
        assert preview.status_code == 200 and "notice-preview" in page and "2027-02-20" in page
        assert not WorkdayOverride.objects.exists()  # a preview writes nothing
        done = client.post(url, {"year": 2027, "text": text, "confirm": "1"})
        assert done.status_code == 302
        assert WorkdayOverride.objects.filter(day__year=2027).count() == 13
        assert WorkdayOverride.history.filter(day=date(2027, 2, 20)).get().history_user == olga
        assert HolidayNotice.objects.get(year=2027).imported_by == olga
        assert not is_working_day(date(2027, 1, 1)) and is_working_day(date(2027, 2, 20))
        assert calendar_gap(date(2026, 11, 16)) is None and uncovered_days(date(2027, 1, 1), date(2027, 3, 1)) == []
        client.force_login(diana)
        assert "工作日历即将用完" not in client.get("/kpis/").content.decode()


def test_uncovered_new_year_is_not_judged(alice, carol):
    """D6: from 2027-01-01 the Monday–Friday fallback would call 元旦 a working day; without the
    year's schedule no 关怀任务 is opened; once the notice is imported the rule judges again."""
    for day in ("2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31"):
        act(alice, at(day, 10), n=5)
    with time_machine.travel(at("2027-01-11", 7), tick=False):
        assert evaluate_anomalies(as_of=date(2027, 1, 10)) == []
        holiday_notice_import(year=2027, text="2027-01-01 休 元旦", by=carol)
        [task] = evaluate_anomalies(as_of=date(2027, 1, 10))
    assert task.kind == InterventionKind.CARE_TASK and task.subject_rep == alice
    assert task.period_start == date(2027, 1, 4)  # 元旦 is a holiday now, the run starts on Monday


# --- D7 ------------------------------------------------------------------------------------------


def test_timeliness_counts_never_contacted_leads_as_running(alice):
    """D7 KPI 1: the median over ALL leads first assigned that day, a never-contacted one at
    now − assignment; plus the share contacted within 120 minutes."""
    day = at("2026-03-10", 9)
    make_lead(assignee=alice, assigned_at=day, first_effective_contact_at=day + timedelta(minutes=30))
    make_lead(assignee=alice, assigned_at=day, first_effective_contact_at=day + timedelta(minutes=60))
    make_lead(assignee=alice, assigned_at=day, first_effective_contact_at=day + timedelta(minutes=200))
    make_lead(assignee=alice, assigned_at=day)  # never contacted
    with time_machine.travel(at("2026-03-11", 9), tick=False):
        cell = measure(Kpi.LEAD_TIMELINESS, [Period.containing("day", date(2026, 3, 10)).span], Scope.rep(alice.pk))[None][0]
    assert cell.value == 130.0  # median of 30, 60, 200, 1440 (the old definition said 60)
    assert cell.n == 4 and cell.detail["running"] == 1 and cell.detail["share_within_target"] == 50.0


def test_reassignment_does_not_restart_the_clock(alice, bob, carol):
    """D7 KPI 1: the clock starts at the first assignment; a supervisor's reassignment resets
    assigned_at (the ack timer) but not the KPI's start."""
    start = at("2026-03-10", 9)
    lead = make_lead(assignee=alice, assigned_at=start)
    assert lead.first_assigned_at == start
    with time_machine.travel(start + timedelta(hours=3), tick=False):
        lead_reassign(lead=lead, to_user=bob, by=carol)
    lead.refresh_from_db()
    assert lead.assigned_at == start + timedelta(hours=3) and lead.first_assigned_at == start
    lead.first_effective_contact_at = start + timedelta(hours=4)
    lead.save()
    with time_machine.travel(at("2026-03-12", 9), tick=False):
        cell = measure(Kpi.LEAD_TIMELINESS, [Period.containing("day", date(2026, 3, 10)).span], Scope.rep(bob.pk))[None][0]
    assert (cell.value, cell.n) == (240.0, 1)


def test_fullness_divides_by_reps_employed_each_working_day(alice, bob, team_a):
    """D7 KPI 2: bob joined on Wednesday — the week has 5 + 3 rep-days, not 2 × 5."""
    _rep_dates(bob, started_on=date(2026, 3, 11))
    for offset in range(5):
        act(alice, at(date(2026, 3, 9) + timedelta(days=offset), 10), n=4)
    for offset in range(2, 5):
        act(bob, at(date(2026, 3, 9) + timedelta(days=offset), 10), n=4)
    week = Period.containing("week", date(2026, 3, 9))
    with time_machine.travel(at("2026-03-16", 9), tick=False):
        cell = measure(Kpi.ACTION_FULLNESS, [week.span], Scope.team(team_a.pk))[None][0]
        assert (cell.value, cell.detail["rep_days"]) == (4.0, 8)  # 32 actions / 8 rep-days (was 3.2)
        _rep_dates(bob, started_on=date(2026, 3, 11), left_on=date(2026, 3, 12))
        act(bob, at("2026-03-13", 10), n=0)
        cell = measure(Kpi.ACTION_FULLNESS, [week.span], Scope.team(team_a.pk))[None][0]
        assert cell.detail["rep_days"] == 7


# --- D8 ------------------------------------------------------------------------------------------


def test_no_care_task_for_days_before_start_or_after_leaving(alice, bob, charlie):
    """D8: bob started on 03-16 and charlie left on 03-06 — their empty days before/after are not
    judged; alice, employed throughout with no evidence, is."""
    act(alice, at("2026-03-02", 10), n=5)  # the ledger starts before the window
    _rep_dates(bob, started_on=date(2026, 3, 16))
    _rep_dates(charlie, left_on=date(2026, 3, 6))
    for offset in range(5):
        act(bob, at(date(2026, 3, 16) + timedelta(days=offset), 10), n=5)
        act(charlie, at(date(2026, 3, 2) + timedelta(days=offset), 10), n=5)  # busy until leaving
    with time_machine.travel(at("2026-03-21", 7), tick=False):
        opened = evaluate_anomalies(as_of=date(2026, 3, 20))
    assert {task.subject_rep for task in opened if task.kind == InterventionKind.CARE_TASK} == {alice}


def test_a_team_that_contacts_nobody_triggers_review(alice, charlie, team_a, team_b, dave):
    """D8: team B has leads assigned three days running and contacts none — 复核分配规则 opens for
    its supervisor (the old median over contacted leads had no value, so nothing fired)."""
    for day in ("2026-03-09", "2026-03-10", "2026-03-11"):
        make_lead(assignee=charlie, assigned_at=at(day, 9))
        make_lead(assignee=alice, assigned_at=at(day, 9), first_effective_contact_at=at(day, 9, 10))
    with time_machine.travel(at("2026-03-12", 7), tick=False):
        opened = evaluate_anomalies(as_of=date(2026, 3, 11))
    [task] = [task for task in opened if task.kind == InterventionKind.REVIEW_ASSIGNMENT]
    assert task.team == team_b and task.owner == dave
    assert [p["n"] for p in task.trigger_data["periods"]] == [1, 1, 1]
