"""Calendar periods in the company's time zone (Asia/Shanghai): days, ISO weeks, months, and the
aware datetime spans the database is queried with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PERIOD_KINDS = {"day": _("日"), "week": _("周"), "month": _("月")}
TREND_LENGTH = {"day": 14, "week": 12, "month": 12}


def local_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: date) -> datetime:
    """Local midnight of `day` as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=local_tz())


def today() -> date:
    return timezone.localdate(timezone.now(), local_tz())


def local_date(moment: datetime) -> date:
    return timezone.localtime(moment, local_tz()).date()


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str  # day | week | month
    start: date
    end: date  # exclusive

    @classmethod
    def containing(cls, kind: str, anchor: date) -> "Period":
        if kind == "day":
            return cls(kind, anchor, anchor + timedelta(days=1))
        if kind == "week":
            start = anchor - timedelta(days=anchor.weekday())
            return cls(kind, start, start + timedelta(days=7))
        if kind == "month":
            start = _month_start(anchor)
            return cls(kind, start, _add_months(start, 1))
        raise ValueError(kind)

    def shifted(self, steps: int) -> "Period":
        if self.kind == "month":
            return Period.containing("month", _add_months(self.start, steps))
        length = self.end - self.start
        return Period(self.kind, self.start + length * steps, self.end + length * steps)

    def trend(self, length: int | None = None) -> list["Period"]:
        """The `length` periods ending with this one, oldest first."""
        length = length or TREND_LENGTH[self.kind]
        return [self.shifted(-offset) for offset in range(length - 1, -1, -1)]

    @property
    def span(self) -> tuple[datetime, datetime]:
        return day_start(self.start), day_start(self.end)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def label(self) -> str:
        if self.kind == "day":
            return f"{self.start:%m-%d}"
        if self.kind == "week":
            return f"{self.start:%m-%d}"
        return f"{self.start:%Y-%m}"

    @property
    def title(self) -> str:
        if self.kind == "day":
            return f"{self.start:%Y-%m-%d}"
        if self.kind == "week":
            year, week, _weekday = self.start.isocalendar()
            return _("%(year)s 第%(week)s周（%(start)s～%(end)s）") % {"year": year, "week": week, "start": f"{self.start:%m-%d}", "end": f"{self.last_day:%m-%d}"}
        return f"{self.start:%Y-%m}"

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def parse_day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        return default
