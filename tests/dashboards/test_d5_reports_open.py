"""D5 — the director's main pages open with DEBUG off once the scheduler has produced a report."""

from __future__ import annotations

import pytest
from django.test import override_settings

from dashboards.models import ReportKind
from dashboards.reports import report_generate

from .test_reports import DAY, day_of_work  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=False)
def test_report_list_opens_when_the_scheduler_made_a_report(client, day_of_work, diana, carol):  # noqa: F811
    """D5: /reports/ with a report made by the scheduler (generated_by empty) answers 200 and names it."""
    scheduled = report_generate(kind=ReportKind.DAILY, day=DAY)  # what daily_report_job does: by=None
    assert scheduled.generated_by is None
    for person in (diana, carol):
        client.force_login(person)
        response = client.get("/reports/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "定时任务" in page and scheduled.get_absolute_url() in page
        detail = client.get(scheduled.get_absolute_url())
        assert detail.status_code == 200
