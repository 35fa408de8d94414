"""D10 — reports count all money, show Asia/Shanghai time; the best team needs a minimum sample."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from dashboards.models import Kpi, ReportKind, Threshold
from dashboards.reports import report_generate, report_pdf
from dashboards.suggestions import best_team_snapshot

from ..factories import UserFactory
from .conftest import at
from .factories import make_deal, make_lead
from .test_reports import DAY, day_of_work  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_money_recorded_by_a_supervisor_or_finance_is_counted(day_of_work, alice, carol, diana):  # noqa: F811
    """D10: a deal owned by the supervisor and a payment finance recorded both reach the totals."""
    finance = UserFactory(username="finance", first_name="费财务")
    make_deal(owner=carol, amount="30000.00", paid="30000.00", closed_at=at(DAY, 16), recorded_by=finance)
    data = report_generate(kind=ReportKind.DAILY, day=DAY).data
    totals = data["company"]["totals"]
    assert (totals["deals"], totals["deal_amount"]) == (2, "150000.00")  # alice's 120k + carol's 30k
    assert (totals["payments"], totals["payment_amount"]) == (2, "80000.00")  # alice's 50k + finance's 30k
    team_a = next(block for block in data["teams"] if block["name"] == "杭州一组")
    assert team_a["totals"]["deal_amount"] == "150000.00"
    names = [row["name"] for block in data["teams"] for row in block["reps"]]
    assert any(name.startswith("陈主管") for name in names) and any(name.startswith("费财务") for name in names)
    assert sum(Decimal(b["totals"]["payment_amount"]) for b in data["teams"]) == Decimal("80000.00")


def test_generated_at_is_shanghai_time_in_page_and_pdf(client, day_of_work, diana):  # noqa: F811
    """D10: generated at 23:30 UTC = 07:30 the next morning in Shanghai, everywhere."""
    with time_machine.travel(at(DAY + timedelta(days=1), 7, 30), tick=False):
        snapshot = report_generate(kind=ReportKind.DAILY, day=DAY)
    assert snapshot.data["generated_at"].startswith("2026-03-11T07:30") and snapshot.data["generated_at"].endswith("+08:00")
    client.force_login(diana)
    assert "2026-03-11 07:30" in client.get(snapshot.get_absolute_url()).content.decode()
    assert "2026-03-11 07:30" in client.get("/reports/").content.decode()
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=report_pdf(snapshot.data), capture_output=True, check=True).stdout.decode()
        if "生成时间" in text:
            assert "2026-03-11 07:30" in text and "23:30" not in text


def test_best_team_needs_the_minimum_sample_and_says_when_none_qualifies(client, alice, charlie, diana, team_a, team_b):
    """D10: one lead contacted in 5 minutes does not make a best team; with the configured minimum
    reached it does; the page says when no team qualifies."""
    with time_machine.travel(at("2026-03-20", 9), tick=False):
        make_lead(assignee=charlie, assigned_at=at("2026-03-10", 9), first_effective_contact_at=at("2026-03-10", 9, 5))
        for i in range(3):
            make_lead(assignee=alice, assigned_at=at("2026-03-11", 9), first_effective_contact_at=at("2026-03-11", 9, 50 + i))
        threshold = Threshold.objects.get(kpi=Kpi.LEAD_TIMELINESS)
        threshold.min_sample = 3
        threshold.save()
        assert best_team_snapshot(Kpi.LEAD_TIMELINESS).team == team_a  # team B's single lead does not count
        threshold.min_sample = 20
        threshold.save()
        assert best_team_snapshot(Kpi.LEAD_TIMELINESS) is None
        client.force_login(diana)
        page = client.get("/kpis/lead_timeliness/suggestions/").content.decode()
    assert "没有团队达到最小样本（20 条线索）" in page
