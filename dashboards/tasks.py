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
