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


@override_settings(DEBUG=False)
def test_every_dashboards_page_opens_for_every_role(client, day_of_work, diana, carol, alice, olga):  # noqa: F811
    """D5: the dashboards' pages (and their fragments) as director, supervisor, rep and ops with
    DEBUG off, with the awkward rows present: a scheduler-made report, an intervention whose closer
    was deleted, a red lead nobody is assigned to any more."""
    from datetime import timedelta

    from django.utils import timezone

    from dashboards.models import Intervention, InterventionKind, Kpi
    from leads.models import LeadStatus

    from .factories import make_lead

    snapshot = report_generate(kind=ReportKind.DAILY, day=DAY)
    today = timezone.localdate()
    task = Intervention.objects.create(
        kind=InterventionKind.CARE_TASK, kpi=Kpi.ACTION_FULLNESS, occurrence_key="d5", team=carol.rep.team, subject_rep=alice,
        owner=carol, title="关怀任务", why="—", period_start=today, period_end=today, due_on=today, status="closed",
        closed_at=timezone.now(), closed_by=None, closing_note="已沟通",
    )
    make_lead(assignee=None, status=LeadStatus.ACKNOWLEDGED, assigned_at=timezone.now() - timedelta(days=3))
    pages = ["/board/", "/board/?zone=alerts", "/kpis/", "/kpis/?period=month", "/interventions/", f"/interventions/{task.pk}/",
             "/reports/", snapshot.get_absolute_url(), f"{snapshot.get_absolute_url()}pdf/", "/scoring/board/"]
    pages += [f"/kpis/{kpi}/{what}/" for kpi in Kpi.values for what in ("records", "suggestions")]
    for person in (diana, carol, alice, olga):
        client.force_login(person)
        for url in pages:
            response = client.get(url)
            assert response.status_code < 500, (person.username, url, response.status_code)
