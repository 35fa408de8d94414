"""The dashboards in English (UI language: Chinese by default, English available; a TV screen
speaks the language set on the screen)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone, translation

from dashboards.models import Intervention, InterventionKind, Kpi
from tests.cash.test_i18n import assert_catalogue_complete, english, headings_and_nav, leftover_chinese

from ..factories import CustomerFactory
from .factories import make_deal, make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_chinese():
    yield
    translation.activate(settings.LANGUAGE_CODE)


def test_dashboards_catalogue_has_no_empty_or_fuzzy_entries():
    assert_catalogue_complete(Path(settings.BASE_DIR) / "dashboards" / "locale" / "en" / "LC_MESSAGES")


def test_kpi_pages_are_english(client, diana, team_a):
    """D2/D3: process health, its records and its improvement tips in English."""
    client.force_login(diana)
    english(client)
    data = [team_a.name, "简体中文"]
    html = client.get("/kpis/").content.decode()
    assert "Process health · Whole company" in html and "Lead response time" in html and "By week" in html
    assert leftover_chinese(html, data) == [], headings_and_nav(html)
    for kpi in Kpi.values:
        for page in ("records", "suggestions"):
            html = client.get(f"/kpis/{kpi}/{page}/").content.decode()
            assert '<html lang="en">' in html
            assert leftover_chinese(html, data) == [], (kpi, page, headings_and_nav(html))


def test_interventions_are_english(client, carol, team_a, bob):
    """D2: the intervention list and page in English (the title is the task's own text)."""
    today = timezone.localdate()
    item = Intervention.objects.create(
        kind=InterventionKind.CARE_TASK, kpi=Kpi.ACTION_FULLNESS, occurrence_key="i18n-care", team=team_a, subject_rep=bob,
        owner=carol, title="关怀任务：鲍勃", why="连续 5 个工作日", period_start=today - timedelta(days=7),
        period_end=today, due_on=today + timedelta(days=3),
    )
    client.force_login(carol)
    english(client)
    data = [item.title, item.why, team_a.name, bob.get_full_name(), carol.get_full_name(), "简体中文"]
    html = client.get("/interventions/").content.decode()
    assert "<h1>Interventions</h1>" in html
    assert leftover_chinese(html, data) == [], headings_and_nav(html)
    detail = client.get(f"/interventions/{item.pk}/").content.decode()
    assert "Close task" in detail and leftover_chinese(detail, data) == [], headings_and_nav(detail)


def test_tv_board_in_english_when_the_screen_says_so(client, screen, alice):
    """D1: a screen set to English shows the wall board in English, amounts in k instead of 万."""
    customer = CustomerFactory(owner=alice)
    screen.language = "en"
    screen.save()
    make_lead(assignee=alice, assigned_at=timezone.now() - timedelta(hours=60))
    make_deal(owner=alice, customer=customer, amount="286000.00", closed_at=timezone.now())
    html = client.get(f"/board/{screen.token}/").content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Today's results</h1>" in html, headings_and_nav(html)
    assert "Leads without follow-up for over 48 h" in html and "Warning lights" in html
    assert "¥286k" in html and "万" not in html
    assert leftover_chinese(html, [screen.name, customer.name, customer.hospital.name, alice.get_full_name(), alice.rep.team.name, "简体中文"]) == []
