"""Who can take a lead right now (L11): on duty, not on leave, within working hours.

Read fresh at every decision — no per-process cache: a rep switched off duty, or a leave entered,
in any process is seen by the next decision in every other process.

Working hours: a rep's own `WorkSchedule`, else the team's; none → always working (while on duty).
`WORKDAYS` follows the Chinese working-day calendar including 调休 make-up days. That calendar
lives in the dashboards app (`WorkdayOverride` + chinesecalendar); leads sits above dashboards in
the dependency picture, so it is reached through one function named by the setting
`ROUTING_WORKDAY_CALENDAR` (a dotted path to `working_days(start, end) -> list[date]`, default the
dashboards one) instead of an import — and never copied.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from .routing_models import DayRule, Leave, WorkSchedule

ON_LEAVE, OFF_HOURS = "on_leave", "off_hours"
DEFAULT_CALENDAR = "dashboards.workdays.working_days"


@functools.cache
def _calendar(path: str) -> Callable[[date, date], list[date]] | None:
    try:
        return import_string(path)
    except ImportError:
        return None


def working_days(start: date, end: date) -> set[date]:
    """Working days in [start, end) per the company calendar (调休 included); Monday–Friday if no
    calendar is installed."""
    calendar = _calendar(getattr(settings, "ROUTING_WORKDAY_CALENDAR", DEFAULT_CALENDAR))
    if calendar is not None:
        return set(calendar(start, end))
    days, day = set(), start
    while day < end:
        if day.weekday() < 5:
            days.add(day)
        day += timedelta(days=1)
    return days


@dataclass(frozen=True)
class Shift:
    day_rule: str
    start: time
    end: time

    def _day_counts(self, day: date, workdays: set[date]) -> bool:
        if self.day_rule == DayRule.EVERY_DAY:
            return True
        if self.day_rule == DayRule.WEEKDAYS:
            return day.weekday() < 5
        return day in workdays

    def covers(self, local: datetime, workdays: set[date]) -> bool:
        """Is `local` (Asia/Shanghai) inside this shift? A shift ending before it starts runs
        overnight and belongs to the day it started."""
        clock, today = local.time(), local.date()
        if self.start < self.end:
            return self.start <= clock < self.end and self._day_counts(today, workdays)
        if clock >= self.start:
            return self._day_counts(today, workdays)
        return clock < self.end and self._day_counts(today - timedelta(days=1), workdays)


@dataclass
class Availability:
    """Everything but on-duty (which is on the roster row) that decides whether a rep works now."""

    moment: datetime
    on_leave: frozenset[int] = frozenset()
    by_user: dict[int, Shift] = field(default_factory=dict)
    by_team: dict[int, Shift] = field(default_factory=dict)
    workdays: set[date] = field(default_factory=set)

    _covered: dict = field(default_factory=dict, repr=False)  # Shift → on shift at `moment`

    def reason(self, user_id: int, team_id: int | None) -> str:
        """"" when available, else ON_LEAVE or OFF_HOURS. Called once per rep: each distinct shift
        is evaluated once."""
        if user_id in self.on_leave:
            return ON_LEAVE
        shift = self.by_user.get(user_id) or (self.by_team.get(team_id) if team_id else None)
        if shift is None:
            return ""
        covered = self._covered.get(shift)
        if covered is None:
            covered = self._covered[shift] = shift.covers(timezone.localtime(self.moment), self.workdays)
        return "" if covered else OFF_HOURS


def _shifts(rows: Iterable[tuple]) -> tuple[dict[int, Shift], dict[int, Shift]]:
    by_user, by_team = {}, {}
    for team_id, user_id, day_rule, start, end in rows:
        if user_id:
            by_user[user_id] = Shift(day_rule, start, end)
        elif team_id:
            by_team[team_id] = Shift(day_rule, start, end)
    return by_user, by_team


def _workdays_around(moment: datetime, shifts: Iterable[Shift]) -> set[date]:
    if not any(shift.day_rule == DayRule.WORKDAYS for shift in shifts):
        return set()
    today = timezone.localtime(moment).date()
    return working_days(today - timedelta(days=1), today + timedelta(days=1))


def availability_at(moment: datetime) -> Availability:
    """The live picture: leaves covering `moment` and every schedule (two small queries, plus the
    calendar's when a schedule follows the working-day calendar)."""
    on_leave = frozenset(Leave.objects.filter(ends_at__gt=moment, starts_at__lte=moment).values_list("user_id", flat=True))
    by_user, by_team = _shifts(WorkSchedule.objects.values_list("team_id", "user_id", "day_rule", "start_time", "end_time"))
    return Availability(moment, on_leave, by_user, by_team, _workdays_around(moment, [*by_user.values(), *by_team.values()]))


@dataclass
class HistoricalAvailability:
    """Leaves and schedules as they were at a moment (simple_history `as_of`), for the replay.
    Leaves are read as of the lead's own time, so one cancelled afterwards still counts."""

    moment: datetime
    leaves: list[tuple[int, datetime, datetime]]
    by_user: dict[int, Shift]
    by_team: dict[int, Shift]

    @classmethod
    def as_of(cls, moment: datetime) -> "HistoricalAvailability":
        leaves = [(leave.user_id, leave.starts_at, leave.ends_at) for leave in Leave.history.as_of(moment)]
        schedules = [(s.team_id, s.user_id, s.day_rule, s.start_time, s.end_time) for s in WorkSchedule.history.as_of(moment)]
        return cls(moment, leaves, *_shifts(schedules))

    def at(self, moment: datetime, workdays: set[date]) -> Availability:
        on_leave = frozenset(user_id for user_id, start, end in self.leaves if start <= moment < end)
        return Availability(moment, on_leave, self.by_user, self.by_team, workdays)
