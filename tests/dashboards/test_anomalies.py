"""D2 anomaly rules → intervention tasks: each fires on its stated run length and not one period
earlier, working days follow the Chinese calendar with 调休, the same anomaly opens one task, and
owners close their tasks with a note."""

from __future__ import annotations

import pydoc
from datetime import date, timedelta

import pytest
import time_machine
from django_q.models import Schedule

from dashboards.anomalies import evaluate_anomalies
from dashboards.models import Intervention, InterventionKind, InterventionStatus, Kpi, Threshold
from dashboards.services import intervention_open
from salesops.models import Channel, Notification

from ..factories import CustomerFactory
from .conftest import at
from .factories import earn, act, make_deal, make_lead

pytestmark = pytest.mark.django_db


def _slow_leads(rep, day: date, minutes: int, count: int = 3) -> None:
    for i in range(count):
        assigned = at(day, 9 + i)
        make_lead(assignee=rep, assigned_at=assigned, first_effective_contact_at=assigned + timedelta(minutes=minutes))


def _kinds() -> list[str]:
    return sorted(Intervention.objects.values_list("kind", flat=True))


# --- 线索转化时效: three consecutive days > 180 min ----------------------------------------------


def test_lead_timeliness_fires_on_the_third_slow_day_not_the_second(alice, carol, team_a):
    """D2: median > 180 min on 3 consecutive days → 复核分配规则 for the team's supervisor."""
    _slow_leads(alice, date(2026, 3, 1), 100)
    for day in (2, 3, 4):
        _slow_leads(alice, date(2026, 3, day), 181)
    assert evaluate_anomalies(as_of=date(2026, 3, 3)) == []
    [task] = evaluate_anomalies(as_of=date(2026, 3, 4))
    assert task.kind == InterventionKind.REVIEW_ASSIGNMENT and task.kpi == Kpi.LEAD_TIMELINESS
    assert (task.owner, task.team) == (carol, team_a)
    assert (task.period_start, task.period_end, task.due_on) == (date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 8))
    assert [p["value"] for p in task.trigger_data["periods"]] == [181.0, 181.0, 181.0]
    assert "分配规则" in task.title and "180" in task.why
    # Notified through the outbox, at once in-app.
    note = Notification.objects.get(recipient=carol, channel=Channel.IN_APP)
    assert note.url == f"/interventions/{task.pk}/" and "复核分配规则" in note.title


def test_a_day_at_exactly_the_trigger_or_without_data_breaks_the_run(alice, team_a, carol):
    """D2: "> 180" — exactly 180 is not a breach; a day without contacted leads claims nothing."""
    _slow_leads(alice, date(2026, 3, 2), 181)
    _slow_leads(alice, date(2026, 3, 3), 180)
    _slow_leads(alice, date(2026, 3, 4), 181)
    _slow_leads(alice, date(2026, 3, 5), 181)
    # 03-06: no lead at all
    _slow_leads(alice, date(2026, 3, 7), 181)
    assert evaluate_anomalies(as_of=date(2026, 3, 7)) == []


# --- 动作饱满度: one rep < 3 for five consecutive working days -----------------------------------


def _steady(rep, first: date, last: date, n: int = 5) -> None:
    """`n` evidence actions on every working day from `first` to `last`."""
    import chinese_calendar

    for day in chinese_calendar.get_workdays(first, last):
        act(rep, at(day, 11), n=n)


@pytest.fixture
def steady_bob(bob):
    """bob records 5 evidence actions every working day of February 2026 — the ledger is live."""
    _steady(bob, date(2026, 2, 2), date(2026, 2, 28))
    return bob


def test_care_task_fires_on_the_fifth_working_day_and_a_tiaoxiu_saturday_counts(alice, carol, steady_bob):
    """D2: Saturday 2026-02-14 is a 调休 working day, so it is alice's fifth day below 3."""
    import chinese_calendar

    assert chinese_calendar.is_workday(date(2026, 2, 14)) and date(2026, 2, 14).weekday() == 5
    _steady(alice, date(2026, 2, 2), date(2026, 2, 9), n=4)
    for day in (10, 11, 12, 13, 14):
        act(alice, at(f"2026-02-{day:02d}"), n=2)
    assert evaluate_anomalies(as_of=date(2026, 2, 13)) == []
    [task] = evaluate_anomalies(as_of=date(2026, 2, 14))
    assert task.kind == InterventionKind.CARE_TASK and task.subject_rep == alice and task.owner == carol
    assert [p["first_day"] for p in task.trigger_data["periods"]] == [f"2026-02-{d}" for d in (10, 11, 12, 13, 14)]
    assert "关怀任务" in task.title and "艾丽" in task.title


def test_care_task_skips_the_spring_festival_holidays(alice, carol, steady_bob):
    """D2: 2026-02-15..23 are holidays: four low days before them and one after make five."""
    _steady(alice, date(2026, 2, 2), date(2026, 2, 10), n=4)
    for day in ("2026-02-11", "2026-02-12", "2026-02-13", "2026-02-14"):
        act(alice, at(day), n=2)
    for day in range(15, 24):
        assert evaluate_anomalies(as_of=date(2026, 2, day)) == [], day
    act(alice, at("2026-02-24"), n=2)
    [task] = evaluate_anomalies(as_of=date(2026, 2, 24))
    assert [p["first_day"] for p in task.trigger_data["periods"]] == [
        "2026-02-11", "2026-02-12", "2026-02-13", "2026-02-14", "2026-02-24"
    ]


def test_three_actions_a_day_is_not_below_three(alice, steady_bob):
    _steady(alice, date(2026, 2, 2), date(2026, 2, 13), n=3)
    assert evaluate_anomalies(as_of=date(2026, 2, 13)) == []


def test_days_before_the_ledger_started_are_not_idle_days(alice, bob):
    """D2: before the first evidence in the ledger nobody could record anything: no task for that."""
    act(bob, at("2026-03-09"), n=5)
    assert evaluate_anomalies(as_of=date(2026, 3, 9)) == []


# --- 协同密度: below 1.8 for two weeks ---------------------------------------------------------------


def _closed_customer(owner, closed, helpers=()):
    customer = CustomerFactory()
    for rep in (owner, *helpers):
        earn(rep, closed - timedelta(days=5), customer=customer)
    make_deal(owner=owner, customer=customer, closed_at=closed)


def test_cross_training_fires_after_two_full_weeks_below_1_8(alice, bob, carol, team_a):
    """D2: weekly density < 1.8 two weeks running → 交叉带教 for the supervisor; a week counts once
    it is complete (its Sunday has passed), so not on the Saturday before."""
    _closed_customer(alice, at("2026-02-25"), helpers=[bob])  # week of 02-23: 2.0, healthy
    _closed_customer(alice, at("2026-03-04"))  # week of 03-02: 1.0
    _closed_customer(bob, at("2026-03-11"))  # week of 03-09: 1.0
    assert evaluate_anomalies(as_of=date(2026, 3, 8)) == []  # one week below
    assert evaluate_anomalies(as_of=date(2026, 3, 14)) == []  # the second week is not over yet
    [task] = evaluate_anomalies(as_of=date(2026, 3, 15))
    assert task.kind == InterventionKind.CROSS_TRAINING and task.team == team_a and task.owner == carol
    assert (task.period_start, task.period_end) == (date(2026, 3, 2), date(2026, 3, 15))


# --- idempotence ---------------------------------------------------------------------------------


def test_the_same_anomaly_opens_one_task_however_often_it_is_evaluated(alice, carol, team_a):
    """D2: the occurrence key (KPI, team, first day of the run) makes evaluation idempotent, also
    while the run goes on; a new run after a break is a new occurrence."""
    for day in (2, 3, 4, 5):
        _slow_leads(alice, date(2026, 3, day), 240)
    evaluate_anomalies(as_of=date(2026, 3, 4))
    assert evaluate_anomalies(as_of=date(2026, 3, 4)) == []
    assert evaluate_anomalies(as_of=date(2026, 3, 5)) == []  # the run continues: same anomaly
    _slow_leads(alice, date(2026, 3, 6), 60)
    for day in (7, 8, 9):
        _slow_leads(alice, date(2026, 3, day), 240)
    assert len(evaluate_anomalies(as_of=date(2026, 3, 9))) == 1
    assert Intervention.objects.count() == 2
    assert Notification.objects.filter(recipient=carol, channel=Channel.IN_APP).count() == 2


def test_closing_a_task_does_not_reopen_the_same_anomaly(alice, carol, team_a):
    for day in (2, 3, 4, 5):
        _slow_leads(alice, date(2026, 3, day), 240)
    [task] = evaluate_anomalies(as_of=date(2026, 3, 4))
    from dashboards.services import intervention_close

    intervention_close(intervention=task, note="已调整待办上限", by=carol)
    assert evaluate_anomalies(as_of=date(2026, 3, 5)) == []


def test_intervention_open_twice_with_one_key_makes_one_row_and_one_notification(carol, settings):
    """D2/L5: one task and one message per channel, however often the same anomaly is opened."""
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "corp", "secret", "1000002"
    kwargs = dict(
        kind=InterventionKind.CARE_TASK, kpi=Kpi.ACTION_FULLNESS, occurrence_key="action_fullness:rep:1:2026-02-10",
        owner=carol, title="关怀任务", why="…", trigger_data={}, period_start=date(2026, 2, 10),
        period_end=date(2026, 2, 14), due_on=date(2026, 2, 18),
    )
    first, created = intervention_open(**kwargs)
    second, created_again = intervention_open(**kwargs)
    assert created and not created_again and first.pk == second.pk
    # One message per channel: in-app, and WeCom because it is set up and carol has a WeCom id.
    assert sorted(Notification.objects.filter(recipient=carol).values_list("channel", flat=True)) == [Channel.IN_APP, Channel.WECOM_APP]


def test_intervention_skips_wecom_when_it_is_not_set_up(carol):
    """L5: no WeCom app configured → in-app only, no rows that can never be delivered."""
    intervention_open(
        kind=InterventionKind.CARE_TASK, kpi=Kpi.ACTION_FULLNESS, occurrence_key="action_fullness:rep:1:2026-02-10",
        owner=carol, title="关怀任务", why="…", trigger_data={}, period_start=date(2026, 2, 10),
        period_end=date(2026, 2, 14), due_on=date(2026, 2, 18),
    )
    assert list(Notification.objects.filter(recipient=carol).values_list("channel", flat=True)) == [Channel.IN_APP]


def test_run_length_is_read_from_the_threshold(alice, team_a, carol):
    """D2/A4: ops change the run length in admin; the rule follows."""
    threshold = Threshold.objects.get(kpi=Kpi.LEAD_TIMELINESS)
    threshold.run_length = 2
    threshold.save()
    for day in (2, 3):
        _slow_leads(alice, date(2026, 3, day), 200)
    assert len(evaluate_anomalies(as_of=date(2026, 3, 3))) == 1


def test_history_replay_opens_each_past_occurrence_once(alice, carol, team_a, steady_bob):
    """The demo (or catching up after an outage) replays a long past in one evaluation."""
    for day in (2, 3, 4):
        _slow_leads(alice, date(2026, 2, day), 300)
    for day in (16, 17, 18):
        _slow_leads(alice, date(2026, 3, day), 300)
    opened = evaluate_anomalies(as_of=date(2026, 3, 20), history_days=60)
    assert sorted(t.period_start.isoformat() for t in opened if t.kind == InterventionKind.REVIEW_ASSIGNMENT) == [
        "2026-02-02", "2026-03-16"
    ]
    assert evaluate_anomalies(as_of=date(2026, 3, 20), history_days=60) == []


# --- closing with a note, and who may ------------------------------------------------------------


@pytest.fixture
def task(alice, carol, team_a):
    for day in (2, 3, 4):
        _slow_leads(alice, date(2026, 3, day), 240)
    return evaluate_anomalies(as_of=date(2026, 3, 4))[0]


def test_owner_closes_the_task_with_a_note(client, carol, task):
    """D2: the owner closes with a note; who and when are kept (history)."""
    client.force_login(carol)
    page = client.get(f"/interventions/{task.pk}/").content.decode()
    assert task.title in page and "触发数据" in page and "关闭任务" in page and "kpis/lead_timeliness/records/" in page
    empty = client.post(f"/interventions/{task.pk}/", {"closing_note": "   "})
    assert empty.status_code == 200 and "请填写处理说明" in empty.content.decode()
    task.refresh_from_db()
    assert task.status == InterventionStatus.OPEN
    response = client.post(f"/interventions/{task.pk}/", {"closing_note": "已复核：两名销售待办上限调到 25。"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == InterventionStatus.CLOSED and task.closed_by == carol and task.closing_note.startswith("已复核")
    assert task.history.filter(history_user=carol, status=InterventionStatus.CLOSED).exists()
    assert "已复核" in client.get(f"/interventions/{task.pk}/").content.decode()


def test_who_sees_and_who_closes_an_intervention(client, task, alice, dave, diana, carol):
    """A3: other team's supervisor and reps get 404; the director sees and may close."""
    for outsider in (alice, dave):
        client.force_login(outsider)
        assert client.get(f"/interventions/{task.pk}/").status_code == 404
        assert client.post(f"/interventions/{task.pk}/", {"closing_note": "x"}).status_code == 404
        assert task.title not in client.get("/interventions/").content.decode() if outsider == dave else True
    client.force_login(diana)
    assert client.get(f"/interventions/{task.pk}/").status_code == 200
    # A supervisor who sees the team's task but does not own it may not close it.
    task.owner = diana
    task.save()
    client.force_login(carol)
    assert client.get(f"/interventions/{task.pk}/").status_code == 200
    assert client.post(f"/interventions/{task.pk}/", {"closing_note": "x"}).status_code == 403


def test_intervention_list_and_badge(client, carol, task):
    client.force_login(carol)
    page = client.get("/interventions/").content.decode()
    assert task.title in page
    assert client.get("/interventions/badge/").content.decode() == "1"
    fragment = client.get("/interventions/?status=closed", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and task.title not in fragment


# --- the schedule -------------------------------------------------------------------------------------


def test_daily_schedules_exist_and_point_at_real_functions():
    """D2/D4: the migration creates the qcluster schedules; their functions import."""
    names = {"dashboards.evaluate_anomalies": "D", "dashboards.daily_report": "D", "dashboards.weekly_report": "W"}
    for name, schedule_type in names.items():
        schedule = Schedule.objects.get(name=name)
        assert schedule.schedule_type == schedule_type and schedule.repeats == -1
        assert callable(pydoc.locate(schedule.func))


def test_the_scheduled_job_evaluates_up_to_yesterday(alice, carol, team_a):
    from dashboards.tasks import evaluate_anomalies_job

    for day in (2, 3, 4):
        _slow_leads(alice, date(2026, 3, day), 240)
    with time_machine.travel(at("2026-03-05", 6, 30), tick=False):
        assert evaluate_anomalies_job() == 1
        assert evaluate_anomalies_job() == 0
    assert _kinds() == [InterventionKind.REVIEW_ASSIGNMENT]
