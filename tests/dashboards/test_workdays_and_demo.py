"""Working days (Chinese calendar with 调休, admin overrides, a fallback for unpublished years), the
demo seed (A5), navigation and admin pages."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta

import pytest
import time_machine

from dashboards.models import Intervention, InterventionKind, Kpi, ReportSnapshot, Threshold, TvScreen, WorkdayOverride
from dashboards.workdays import is_working_day, working_days
from salesops.models import ActivityKind

from .conftest import at
from .factories import act, make_deal, make_lead

pytestmark = pytest.mark.django_db


def test_tiaoxiu_saturdays_work_and_holiday_weekdays_do_not():
    """D2: 2025-09-28 and 2026-02-14 are 调休 Saturdays/Sundays; 2026-02-16 (Monday) is 春节."""
    assert is_working_day(date(2025, 9, 28)) and is_working_day(date(2026, 2, 14)) and is_working_day(date(2026, 2, 28))
    assert not is_working_day(date(2026, 2, 16)) and not is_working_day(date(2025, 10, 1))
    assert working_days(date(2026, 2, 9), date(2026, 2, 16)) == [date(2026, 2, d) for d in (9, 10, 11, 12, 13, 14)]


def test_admin_override_wins_and_unpublished_years_fall_back_to_monday_to_friday():
    """A year the library does not know yet counts Monday–Friday until ops enter its 调休."""
    assert working_days(date(2027, 1, 4), date(2027, 1, 11)) == [date(2027, 1, d) for d in (4, 5, 6, 7, 8)]
    WorkdayOverride.objects.create(day=date(2027, 1, 4), is_workday=False, note="元旦调休")
    WorkdayOverride.objects.create(day=date(2027, 1, 9), is_workday=True, note="元旦调休上班")
    assert working_days(date(2027, 1, 4), date(2027, 1, 11)) == [date(2027, 1, d) for d in (5, 6, 7, 8, 9)]


def _ctx():
    from salesops.demo import DemoContext, seed_master_data

    ctx = DemoContext(rng=random.Random(2026), stdout=io.StringIO())
    seed_master_data(ctx)
    return ctx


def test_demo_seed_runs_on_a_thin_history_and_is_idempotent():
    """A5: with nothing in the ledger the seed still makes its screen, links and reports."""
    from dashboards import demo

    ctx = _ctx()
    demo.seed(ctx)
    output = ctx.stdout.getvalue()
    screen = TvScreen.objects.get()
    assert f"/board/{screen.token}/" in output
    assert all(t.sop_url and t.training_video_url for t in Threshold.objects.all())
    counts = (TvScreen.objects.count(), Intervention.objects.count(), ReportSnapshot.objects.count(), Threshold.history.count())
    demo.seed(_ctx())
    assert (TvScreen.objects.count(), Intervention.objects.count(), ReportSnapshot.objects.count(), Threshold.history.count()) == counts
    assert TvScreen.objects.get().token == screen.token


def test_demo_seed_replays_the_history_into_interventions_of_each_kind():
    """A5: the rules run over the demo history so every kind of intervention shows on first start."""
    from dashboards import demo

    ctx = _ctx()
    today = date(2026, 3, 20)
    team = ctx.teams[0]
    members = [user for user in ctx.reps if user.rep.team_id == team.pk]
    slow, idle = members[0], members[1]
    with time_machine.travel(at(today, 6), tick=False):
        for offset in range(1, 30):
            day = today - timedelta(days=offset)
            for user in members[2:]:
                act(user, at(day, 10), n=5)
            if 5 <= offset <= 7:
                make_lead(assignee=slow, assigned_at=at(day, 9), first_effective_contact_at=at(day, 14))
            if offset in (10, 17):  # the weeks of 03-09 and 03-02, one rep each
                customer = ctx.customers[offset]
                act(slow, at(day, 8), customer=customer, kind=ActivityKind.CALL)
                make_deal(owner=slow, customer=customer, closed_at=at(day, 16))
        demo.seed(ctx)
    kinds = set(Intervention.objects.values_list("kind", flat=True))
    assert kinds == set(InterventionKind.values)
    assert Intervention.objects.filter(kind=InterventionKind.CARE_TASK, subject_rep=idle).exists()
    assert Intervention.objects.filter(kpi=Kpi.LEAD_TIMELINESS, team=team).exists()


def test_navigation_by_role(client, alice, carol):
    """U1: a rep's menu does not send them to the wall-TV board (unreadable at 390 px)."""
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "过程健康" in page and "干预任务" not in page
    assert 'href="/dashboards/board/"' not in page
    client.force_login(carol)
    page = client.get("/").content.decode()
    assert "干预任务" in page and "日报周报" in page


@pytest.mark.parametrize("model", ["threshold", "tvscreen", "intervention", "reportsnapshot", "workdayoverride"])
def test_admin_pages_open(client, olga, model):
    """A4: ops run thresholds, screens and workday overrides from admin."""
    client.force_login(olga)
    assert client.get(f"/admin/dashboards/{model}/").status_code == 200
