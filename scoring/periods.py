"""Calendar months and quarters in the company's time zone (Asia/Shanghai)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

QUARTER_KEY = re.compile(r"^(?P<year>\d{4})-Q(?P<quarter>[1-4])$")


@dataclass(frozen=True)
class Period:
    key: str  # "2026-Q1" or "2026-03"
    label: str  # "2026年第1季度" / "2026年3月"
    start: datetime
    end: datetime  # exclusive

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def _local_start(year: int, month: int) -> datetime:
    return timezone.make_aware(datetime(year, month, 1))


def quarter(year: int, number: int) -> Period:
    first_month = 3 * (number - 1) + 1
    end = _local_start(year + 1, 1) if number == 4 else _local_start(year, first_month + 3)
    label = _("%(year)s年第%(quarter)s季度") % {"year": year, "quarter": number}
    return Period(f"{year}-Q{number}", label, _local_start(year, first_month), end)


def quarter_of(moment: datetime) -> Period:
    local = timezone.localtime(moment)
    return quarter(local.year, (local.month - 1) // 3 + 1)


def month_of(moment: datetime) -> Period:
    local = timezone.localtime(moment)
    end = _local_start(local.year + 1, 1) if local.month == 12 else _local_start(local.year, local.month + 1)
    label = _("%(year)s年%(month)s月") % {"year": local.year, "month": local.month}
    return Period(f"{local.year}-{local.month:02d}", label, _local_start(local.year, local.month), end)


def parse_quarter(value: str | None) -> Period | None:
    """"2026-Q1" → that quarter; anything else → None (the caller says so and shows this quarter)."""
    match = QUARTER_KEY.match((value or "").strip())
    if not match:
        return None
    return quarter(int(match["year"]), int(match["quarter"]))


def previous_quarter(period: Period) -> Period:
    return quarter_of(period.start - timedelta(days=1))


def next_quarter(period: Period) -> Period:
    return quarter_of(period.end)
