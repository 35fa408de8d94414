"""D3 — 一键优化建议: the KPI's SOP and training video (admin-editable) and a generated snapshot of
the best team on that KPI."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from dashboards.models import Kpi, Threshold
from dashboards.suggestions import best_team_snapshot
from salesops.models import ActivityKind

from .conftest import at
from .factories import act, make_lead

pytestmark = pytest.mark.django_db
NOW = at("2026-03-20", 9)


@pytest.fixture
def two_teams(alice, bob, charlie):
    """team A (alice, bob) works harder and answers faster than team B (charlie)."""
    for offset in range(1, 15):
        day = NOW - timedelta(days=offset)
        act(alice, day, n=4, kind=ActivityKind.PHOTO)
        act(bob, day, n=2, kind=ActivityKind.SIGNATURE)
        act(charlie, day, n=2, kind=ActivityKind.PHOTO)
        make_lead(assignee=alice, assigned_at=day, first_effective_contact_at=day + timedelta(minutes=45))
        make_lead(assignee=charlie, assigned_at=day, first_effective_contact_at=day + timedelta(minutes=200))


def test_best_team_snapshot_names_the_team_its_numbers_and_habits(two_teams):
    """D3: the best team on the KPI, with their median response, actions per day, typical evidence
    (D10: 14 leads a team and ~19 rep-working-days for team B's single rep in the window; the
    minimum sample is set to 10 so both teams are ranked)."""
    Threshold.objects.filter(kpi__in=[Kpi.ACTION_FULLNESS, Kpi.LEAD_TIMELINESS]).update(min_sample=10)
    with time_machine.travel(NOW, tick=False):
        fullness = best_team_snapshot(Kpi.ACTION_FULLNESS)
        timeliness = best_team_snapshot(Kpi.LEAD_TIMELINESS)
    assert fullness.team.name == "杭州一组" and [name for name, _v in fullness.ranking] == ["杭州一组", "宁波一组"]
    habits = {habit.label: habit.team_value for habit in fullness.habits}
    assert habits["线索转化时效"] == "45 分钟"
    assert [(label, percent) for label, _n, percent in fullness.evidence_mix] == [("照片", 67), ("签字文件", 33)]
    assert timeliness.team.name == "杭州一组" and timeliness.value == 45.0 and timeliness.company_value == 122.5


def test_no_data_no_snapshot(team_a):
    assert best_team_snapshot(Kpi.COLLABORATION_DENSITY) is None


def test_suggestions_show_the_configured_sop_and_video(client, alice, two_teams):
    """D3: links ops set in admin, next to the KPI, as an htmx fragment and as a page."""
    threshold = Threshold.objects.get(kpi=Kpi.ACTION_FULLNESS)
    threshold.sop_title, threshold.sop_url = "拜访留痕 SOP", "https://wiki.example.com/sop/visit"
    threshold.training_video_url = "https://learn.example.com/v/42"
    threshold.save()
    client.force_login(alice)
    with time_machine.travel(NOW, tick=False):
        fragment = client.get("/kpis/action_fullness/suggestions/", headers={"HX-Request": "true"})
        page = client.get("/kpis/action_fullness/suggestions/").content.decode()
    body = fragment.content.decode()
    assert "<html" not in body
    assert 'href="https://wiki.example.com/sop/visit"' in body and "拜访留痕 SOP" in body
    assert 'href="https://learn.example.com/v/42"' in body
    assert "标杆团队：杭州一组" in body and "照片 67%" in body
    assert "<html" in page and "一键优化建议" in page
    assert client.get("/kpis/not_a_kpi/suggestions/").status_code == 404
