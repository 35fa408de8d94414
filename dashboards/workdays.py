"""Working days of the Chinese calendar, 调休 included (D2 action fullness, D6 coverage).

Order of truth: a `WorkdayOverride` row (entered in admin or imported from the State Council's
notice), then `chinesecalendar`'s official schedule, then — for a year nobody has entered yet —
Monday to Friday. That last guess is never *judged* on: a day is "covered" only when the library
knows its year or the year's notice was imported (`HolidayNotice`); anomaly rules skip uncovered
days, the dashboards show a banner and ops get a daily notification (`calendar_gap`).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from .models import HolidayNotice, WorkdayOverride

COVERAGE_HORIZON_DAYS = 60


def _library_is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # the year's schedule is not published in this library version
        return day.weekday() < 5


@lru_cache(maxsize=64)
def library_covers_year(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
        chinese_calendar.is_workday(date(year, 12, 31))
    except NotImplementedError:
        return False
    return True


def is_library_covered(day: date) -> bool:
    return library_covers_year(day.year)


def uncovered_days(start: date, end: date) -> list[date]:
    """Days in [start, end) whose year neither the library nor an imported notice covers (one query
    at most)."""
    if end <= start:
        return []
    years = [year for year in range(start.year, (end - timedelta(days=1)).year + 1) if not library_covers_year(year)]
    if not years:
        return []
    imported = set(HolidayNotice.objects.filter(year__in=years).values_list("year", flat=True))
    missing = set(years) - imported
    days, day = [], start
    while day < end:
        if day.year in missing:
            days.append(day)
        day += timedelta(days=1)
    return days


def calendar_gap(today: date, horizon: int = COVERAGE_HORIZON_DAYS) -> date | None:
    """The first day of the next `horizon` days the calendar does not cover, or None."""
    missing = uncovered_days(today, today + timedelta(days=horizon + 1))
    return missing[0] if missing else None


def working_days(start: date, end: date) -> list[date]:
    """Working days in [start, end) — one query for the overrides of the range."""
    if end <= start:
        return []
    overrides = dict(WorkdayOverride.objects.filter(day__gte=start, day__lt=end).values_list("day", "is_workday"))
    days = []
    day = start
    while day < end:
        if overrides[day] if day in overrides else _library_is_workday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def is_working_day(day: date) -> bool:
    return bool(working_days(day, day + timedelta(days=1)))
