"""D4 — the director's daily and weekly report: generated (on schedule and on demand), stored as
a snapshot with its PDF, delivered through the outbox, and shown to each reader only in part."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta

import pytest
import time_machine

from dashboards.models import ReportKind, ReportSnapshot
from dashboards.reports import report_generate, report_period
from salesops.models import ActivityKind, Channel, Notification

from ..factories import CustomerFactory
from .conftest import at
from .factories import act, make_deal, make_lead

pytestmark = pytest.mark.django_db
DAY = date(2026, 3, 10)


@pytest.fixture
def day_of_work(alice, bob, charlie):
    customer = CustomerFactory(name="浙江省人民医院 骨科")
    make_lead(assignee=alice, assigned_at=at(DAY, 9), first_effective_contact_at=at(DAY, 9, 30))
    make_lead(assignee=alice, assigned_at=at(DAY, 10), first_effective_contact_at=at(DAY, 11, 40))
    make_lead(assignee=bob, assigned_at=at(DAY, 10))
    act(alice, at(DAY, 10), kind=ActivityKind.VISIT_COMPLETED, n=2, customer=customer)
    act(alice, at(DAY, 10), kind=ActivityKind.PHOTO, n=3, customer=customer)
    act(alice, at(DAY, 11), kind=ActivityKind.QUOTE_SENT, customer=customer)
    act(charlie, at(DAY, 11), kind=ActivityKind.SIGNATURE)
    act(alice, at(DAY - timedelta(days=1), 11), kind=ActivityKind.PHOTO, n=9)  # the day before
    make_deal(owner=alice, customer=customer, amount="120000.00", paid="50000.00", closed_at=at(DAY, 15))
    return customer


def _rep_row(data, name):
    return next(rep for block in data["teams"] for rep in block["reps"] if rep["name"] == name)


def test_daily_report_counts_each_reps_day(day_of_work, carol, dave, diana):
    """D4: per rep — leads, first-contact times, visits, evidence actions, quotes, deals, payments."""
    snapshot = report_generate(kind=ReportKind.DAILY, day=DAY)
    alice = _rep_row(snapshot.data, "艾丽")
    assert (alice["leads"], alice["contacted"], alice["first_contact_median"]) == (2, 2, 65.0)
    assert (alice["visits"], alice["evidence"], alice["quotes"]) == (2, 3, 1)
    assert (alice["deals"], alice["deal_amount"], alice["payments"], alice["payment_amount"]) == (1, "120000.00", 1, "50000.00")
    assert set(alice["kpis"]) == {"lead_timeliness", "action_fullness", "collaboration_density"}
    team_a = next(block for block in snapshot.data["teams"] if block["name"] == "杭州一组")
    assert team_a["totals"]["leads"] == 3 and team_a["totals"]["evidence"] == 3 and team_a["supervisor"] == "陈主管"
    assert snapshot.data["company"]["totals"]["evidence"] == 4
    assert snapshot.pdf.read(4) == b"%PDF"


def test_report_is_stored_once_per_period_and_announced_once(day_of_work, carol, dave, diana):
    """D4: a snapshot per period; regenerating replaces it; the outbox announces it once per reader."""
    first = report_generate(kind=ReportKind.DAILY, day=DAY)
    again = report_generate(kind=ReportKind.DAILY, day=DAY)
    assert first.pk == again.pk and ReportSnapshot.objects.count() == 1
    for reader in (diana, carol, dave):
        note = Notification.objects.get(recipient=reader, channel=Channel.IN_APP)
        assert note.url == f"/reports/{first.pk}/" and "日报" in note.title


def test_weekly_report_covers_monday_to_sunday(day_of_work, diana, alice):
    assert report_period(ReportKind.WEEKLY, DAY) == (date(2026, 3, 9), date(2026, 3, 15))
    act(alice, at("2026-03-08", 23, 59), kind=ActivityKind.PHOTO, n=7)  # Sunday: last week
    snapshot = report_generate(kind=ReportKind.WEEKLY, day=DAY)
    assert (snapshot.period_start, snapshot.period_end) == (date(2026, 3, 9), date(2026, 3, 15))
    assert _rep_row(snapshot.data, "艾丽")["evidence"] == 3 + 9  # Tuesday's and Monday's, not Sunday's


def test_scheduled_jobs_report_yesterday_and_last_week(day_of_work, diana):
    """D4: generated on schedule, not chased."""
    from dashboards.tasks import daily_report_job, weekly_report_job

    with time_machine.travel(at(DAY + timedelta(days=1), 7), tick=False):
        daily = ReportSnapshot.objects.get(pk=daily_report_job())
    with time_machine.travel(at("2026-03-16", 7, 30), tick=False):
        weekly = ReportSnapshot.objects.get(pk=weekly_report_job())
    assert (daily.kind, daily.period_start) == (ReportKind.DAILY, DAY)
    assert (weekly.kind, weekly.period_start) == (ReportKind.WEEKLY, date(2026, 3, 9))
    assert daily.generated_by is None


def test_director_sees_everything_supervisor_their_team_rep_nothing(client, day_of_work, diana, carol, alice):
    """D4/A3: the page and the PDF for the director; the team's part for a supervisor; 404 for reps."""
    snapshot = report_generate(kind=ReportKind.DAILY, day=DAY)
    client.force_login(diana)
    page = client.get(f"/reports/{snapshot.pk}/").content.decode()
    assert "艾丽" in page and "查理" in page and "全公司" in page
    pdf = client.get(f"/reports/{snapshot.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and b"".join(pdf.streaming_content)[:4] == b"%PDF"
    client.force_login(carol)
    page = client.get(f"/reports/{snapshot.pk}/").content.decode()
    assert "艾丽" in page and "查理" not in page and "宁波一组" not in page
    team_pdf = client.get(f"/reports/{snapshot.pk}/pdf/").content
    assert team_pdf[:4] == b"%PDF"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=team_pdf, capture_output=True, check=True).stdout.decode()
        if "杭州一组" in text:  # the CID font needs poppler-data to extract; skip the check without it
            assert "艾丽" in text and "查理" not in text and "宁波一组" not in text
    client.force_login(alice)
    for url in ("/reports/", f"/reports/{snapshot.pk}/", f"/reports/{snapshot.pk}/pdf/"):
        assert client.get(url).status_code == 404


def test_report_on_demand(client, day_of_work, carol):
    """D4: a supervisor or the director generates a report now; a future day is refused by name."""
    client.force_login(carol)
    assert "立即生成" in client.get("/reports/").content.decode()
    response = client.post("/reports/", {"kind": "daily", "day": DAY.isoformat()})
    snapshot = ReportSnapshot.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/{snapshot.pk}/"
    assert snapshot.generated_by == carol
    with time_machine.travel(at(DAY, 12), tick=False):
        refused = client.post("/reports/", {"kind": "daily", "day": (DAY + timedelta(days=1)).isoformat()})
    assert refused.status_code == 200 and "不能生成未来日期的报表" in refused.content.decode()
    assert "日期" in client.post("/reports/", {"kind": "daily", "day": "yesterday"}).content.decode()
