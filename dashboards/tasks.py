"""Scheduled dashboards jobs (django-q2; schedules created by migration 0002). Each one may run
twice: anomaly tasks are keyed per occurrence, a report regenerates its period's snapshot and its
notifications are deduplicated."""

from __future__ import annotations

from datetime import timedelta

from .anomalies import evaluate_anomalies
from .models import ReportKind
from .periods import today
from .reports import report_generate


def evaluate_anomalies_job() -> int:
    """Every morning: the rules over the periods ending yesterday."""
    return len(evaluate_anomalies())


def daily_report_job() -> int:
    return report_generate(kind=ReportKind.DAILY, day=today() - timedelta(days=1)).pk


def weekly_report_job() -> int:
    """Monday morning: last week's report."""
    return report_generate(kind=ReportKind.WEEKLY, day=today() - timedelta(days=7)).pk


def calendar_check_job() -> str:
    """Every morning (D6): when the working-day calendar does not cover the next 60 days, every
    ops user (else the director) gets a notification — once a day, until the year is imported."""
    from django.contrib.auth import get_user_model
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from salesops.models import Role

    from .services import directors, notify
    from .workdays import COVERAGE_HORIZON_DAYS, calendar_gap

    day = today()
    gap = calendar_gap(day)
    if gap is None:
        return ""
    recipients = list(get_user_model().objects.filter(rep__role=Role.OPS, is_active=True).order_by("pk")) or directors()
    for person in recipients:
        notify(
            recipient=person,
            title=_("工作日历即将用完：%(day)s 起未覆盖") % {"day": gap.isoformat()},
            body=_("未来 %(n)s 天内，%(year)s 年的放假调休安排尚未录入（chinesecalendar 未包含）。未覆盖的日期不会用于异常判断。请在后台“国务院放假调休通知”中粘贴通知导入。")
            % {"n": COVERAGE_HORIZON_DAYS, "year": gap.year},
            url=reverse("admin:dashboards_holidaynotice_import"),
            dedupe_key=f"dashboards:calendar:{gap.isoformat()}:{day.isoformat()}:{person.pk}",
            payload={"first_uncovered_day": gap.isoformat()},
        )
    return gap.isoformat()
