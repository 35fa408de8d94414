"""Working days of the Chinese calendar, 调休 included (D2 action fullness).

Order of truth: a `WorkdayOverride` row ops entered in admin, then `chinesecalendar`'s official
schedule, then — for a year the installed library does not know yet — Monday to Friday.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from .models import WorkdayOverride


def _library_is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # the year's schedule is not published in this library version
        return day.weekday() < 5


def is_library_covered(day: date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


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
