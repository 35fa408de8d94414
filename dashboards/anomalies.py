"""Anomaly rules (D2) → intervention tasks.

Each KPI's rule is "the value is beyond the trigger line for `run_length` consecutive periods"
(periods per the threshold's window: calendar days, working days with 调休, or ISO weeks):

- 线索转化时效, per team, daily: median > 180 min three days running → 复核分配规则 (team supervisor);
- 动作饱满度, per rep, per working day: < 3 evidence actions five working days running → 关怀任务
  for the rep's supervisor;
- 协同密度, per team, weekly: < 1.8 two weeks running → 交叉带教计划 (team supervisor).

A run is one anomaly occurrence, keyed by (KPI, subject, first period of the run): evaluating again —
the next morning, or twice the same morning — finds the same key and opens nothing new. When the run
breaks and a later one starts, that is a new occurrence and a new task. A period without data
(no assigned lead that day, no closed customer that week, a day before the ledger's first
evidence) breaks a run: an anomaly is claimed only from data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext as _

from salesops.models import Rep, Role, Team

from .kpis import Scope, evidence_start, measure
from .models import KPI_INTERVENTION, Intervention, Kpi, Threshold, Window
from .periods import day_start, today
from .services import fallback_owner, intervention_open
from .workdays import uncovered_days, working_days

logger = logging.getLogger(__name__)

# How far back a run may be followed when it started before the evaluated window.
MAX_PERIODS = {Window.DAY: 400, Window.WORKING_DAY: 300, Window.WEEK: 60}


@dataclass(frozen=True)
class EvalPeriod:
    first_day: date
    last_day: date

    @property
    def span(self):
        return day_start(self.first_day), day_start(self.last_day + timedelta(days=1))


def evaluation_periods(window: str, as_of: date, count: int) -> list[EvalPeriod]:
    """The last `count` complete periods ending on or before `as_of`, oldest first."""
    if window == Window.DAY:
        return [EvalPeriod(as_of - timedelta(days=i), as_of - timedelta(days=i)) for i in range(count - 1, -1, -1)]
    if window == Window.WORKING_DAY:
        days: list[date] = []
        horizon = count * 2 + 20  # holidays (春节 ~9 days) never hide more than this
        while True:
            days = working_days(as_of - timedelta(days=horizon), as_of + timedelta(days=1))
            if len(days) >= count or horizon > count * 7 + 60:
                break
            horizon *= 2
        return [EvalPeriod(day, day) for day in days[-count:]]
    if window == Window.WEEK:
        # The last week counted is the one whose Sunday is on or before as_of (a week is complete).
        last_sunday = as_of - timedelta(days=(as_of.weekday() + 1) % 7)
        return [
            EvalPeriod(last_sunday - timedelta(days=7 * i + 6), last_sunday - timedelta(days=7 * i))
            for i in range(count - 1, -1, -1)
        ]
    raise ValueError(window)


def breaching_runs(values: list[float | None], threshold: Threshold) -> list[tuple[int, int]]:
    """Maximal runs [start, end] (inclusive indexes) of consecutive breaching values."""
    runs, start = [], None
    for index, value in enumerate(values):
        if threshold.breaches(value):
            if start is None:
                start = index
        elif start is not None:
            runs.append((start, index - 1))
            start = None
    if start is not None:
        runs.append((start, len(values) - 1))
    return runs


@dataclass
class Subject:
    key: int  # team id or rep user id
    level: str  # team | rep
    name: str
    team: Team | None
    rep_user: object = None

    @property
    def owner(self):
        if self.team is not None and self.team.supervisor_id:
            return self.team.supervisor
        return fallback_owner()


def _subjects(kpi: str) -> list[Subject]:
    if kpi == Kpi.ACTION_FULLNESS:
        reps = Rep.objects.filter(role=Role.REP, on_duty=True, user__is_active=True).select_related(
            "user", "team", "team__supervisor"
        )
        return [Subject(rep.user_id, "rep", rep.display_name, rep.team, rep.user) for rep in reps]
    teams = Team.objects.select_related("supervisor")
    return [Subject(team.pk, "team", team.name, team) for team in teams]


def _texts(kpi: str, subject: Subject, threshold: Threshold, periods: list[EvalPeriod], values: list) -> tuple[str, str]:
    n = len(periods)
    trigger = f"{threshold.trigger_value.normalize():f}"
    points = "；".join(f"{p.first_day:%m-%d}{'' if p.first_day == p.last_day else f'～{p.last_day:%m-%d}'}：{v}" for p, v in zip(periods, values))
    if kpi == Kpi.LEAD_TIMELINESS:
        title = _("复核分配规则：%(team)s 线索首次有效联系中位时长连续 %(n)s 天超过 %(t)s 分钟") % {"team": subject.name, "n": n, "t": trigger}
        why = _("%(team)s 的线索从分配到首次有效联系的中位时长连续 %(n)s 天高于 %(t)s 分钟（健康值 ≤ %(h)s）。请复核分配规则：在岗状态、待办上限、产品线与医院等级匹配。每日中位数（分钟）：%(points)s") % {
            "team": subject.name, "n": n, "t": trigger, "h": f"{threshold.healthy_value.normalize():f}", "points": points}
    elif kpi == Kpi.ACTION_FULLNESS:
        title = _("关怀任务：%(rep)s 连续 %(n)s 个工作日留痕动作少于 %(t)s 次") % {"rep": subject.name, "n": n, "t": trigger}
        why = _("%(rep)s 连续 %(n)s 个工作日有留痕的动作（照片、上传、签字、语音、审批）少于 %(t)s 次（健康值 ≥ %(h)s）。请与其沟通，了解困难并给予支持。每个工作日的次数：%(points)s") % {
            "rep": subject.name, "n": n, "t": trigger, "h": f"{threshold.healthy_value.normalize():f}", "points": points}
    else:
        title = _("交叉带教计划：%(team)s 协同密度连续 %(n)s 周低于 %(t)s") % {"team": subject.name, "n": n, "t": trigger}
        why = _("%(team)s 成交客户的平均参与销售人数连续 %(n)s 周低于 %(t)s（健康值 ≥ %(h)s）。请制定交叉带教计划，安排资深销售带新人共同跟进客户。每周平均人数：%(points)s") % {
            "team": subject.name, "n": n, "t": trigger, "h": f"{threshold.healthy_value.normalize():f}", "points": points}
    return title, why


def evaluate_kpi(kpi: str, *, as_of: date, threshold: Threshold, lookback: int | None = None) -> list[Intervention]:
    subjects = _subjects(kpi)
    if not subjects:
        return []
    group = "rep" if kpi == Kpi.ACTION_FULLNESS else "team"
    count = max(lookback or 0, threshold.run_length * 2 + 7)
    ledger_start = evidence_start() if kpi == Kpi.ACTION_FULLNESS else None
    while True:
        periods = evaluation_periods(threshold.window, as_of, count)
        cells = measure(kpi, [p.span for p in periods], Scope.company(), group, threshold=threshold, keys=[s.key for s in subjects])
        # D6: a day the calendar does not cover (its year's 放假调休 not published or not imported)
        # may be a holiday the Monday–Friday fallback calls a working day: it is not judged.
        unknown = set(uncovered_days(periods[0].first_day, periods[-1].last_day + timedelta(days=1))) if periods else set()
        series = {}
        for subject in subjects:
            values = [cell.value for cell in cells[subject.key]]
            if kpi == Kpi.ACTION_FULLNESS:
                # Before the ledger's first evidence nobody could have recorded anything; a day
                # outside the rep's employment has no value already (no rep-day, D8).
                values = [
                    None if ledger_start is None or p.last_day < ledger_start or p.first_day in unknown else v
                    for p, v in zip(periods, values)
                ]
            series[subject.key] = (values, cells[subject.key])
        # A run that already reached its length at the window's first period may have started
        # earlier: look further back, so that its key (its true first period) stays the same.
        truncated = any(
            runs and runs[0][0] == 0 and runs[0][1] + 1 >= threshold.run_length
            for runs in (breaching_runs(values, threshold) for values, _cells in series.values())
        )
        if not truncated or count >= MAX_PERIODS[Window(threshold.window)]:
            break
        count = min(count * 2, MAX_PERIODS[Window(threshold.window)])

    opened = []
    for subject in subjects:
        values, subject_cells = series[subject.key]
        for start, end in breaching_runs(values, threshold):
            if end - start + 1 < threshold.run_length:
                continue
            opened_at = start + threshold.run_length - 1  # the period the run reached its length
            run = periods[start : end + 1]
            key = f"{kpi}:{subject.level}:{subject.key}:{periods[start].first_day.isoformat()}"
            owner = subject.owner
            if owner is None:
                logger.warning("anomaly %s has no owner (no supervisor, no director)", key)
                continue
            # The morning after the run reached its length: the daily job's run day.
            detected_on = periods[opened_at].last_day + timedelta(days=1)
            reached = periods[start : opened_at + 1]
            title, why = _texts(kpi, subject, threshold, reached, values[start : opened_at + 1])
            data = {
                "kpi": kpi,
                "window": threshold.window,
                "scope": {"level": subject.level, "id": subject.key, "name": subject.name},
                "trigger_value": str(threshold.trigger_value),
                "healthy_value": str(threshold.healthy_value),
                "run_length": threshold.run_length,
                "as_of": as_of.isoformat(),
                "periods": [
                    {"first_day": p.first_day.isoformat(), "last_day": p.last_day.isoformat(), "value": v, "n": c.n}
                    for p, v, c in zip(run, values[start : end + 1], subject_cells[start : end + 1])
                ],
            }
            intervention, created = intervention_open(
                kind=KPI_INTERVENTION[Kpi(kpi)],
                kpi=kpi,
                occurrence_key=key,
                owner=owner,
                team=subject.team,
                subject_rep=subject.rep_user,
                title=title,
                why=why,
                trigger_data=data,
                period_start=periods[start].first_day,
                period_end=periods[opened_at].last_day,
                due_on=detected_on + timedelta(days=threshold.due_in_days),
            )
            if created:
                opened.append(intervention)
    return opened


def periods_in_days(window: str, as_of: date, days: int) -> int:
    """How many periods of `window` the `days` up to `as_of` hold."""
    if window == Window.WEEK:
        return max(1, days // 7)
    if window == Window.WORKING_DAY:
        return max(1, len(working_days(as_of - timedelta(days=days - 1), as_of + timedelta(days=1))))
    return max(1, days)


def evaluate_anomalies(*, as_of: date | None = None, history_days: int | None = None) -> list[Intervention]:
    """Evaluate every rule over the periods ending on `as_of` (default: yesterday, the last complete
    day) and open a task per new anomaly occurrence. Safe to run any number of times.

    `history_days` replays a longer past at once (the demo seed, or after an outage): every run in
    it that reached its length opens its task, as the daily job would have on that morning."""
    as_of = as_of or today() - timedelta(days=1)
    thresholds = Threshold.all_by_kpi()
    opened: list[Intervention] = []
    for kpi in Kpi.values:
        threshold = thresholds[kpi]
        lookback = periods_in_days(threshold.window, as_of, history_days) if history_days else None
        opened += evaluate_kpi(kpi, as_of=as_of, threshold=threshold, lookback=lookback)
    return opened
