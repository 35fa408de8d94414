"""U6 Lists: sortable (whitelisted keys), date-filtered, paged, and exported to Excel with formula
injection escaped, phone numbers masked and the export logged."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import BytesIO

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from leads.models import Lead, LeadStatus
from salesops.privacy import mask_phone
from salesops.tables import safe_cell

from ..factories import CustomerFactory


def _sheet(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "attachment;" in response["Content-Disposition"]
    workbook = load_workbook(BytesIO(response.content))
    return workbook.active


def test_cells_that_start_like_a_formula_are_escaped():
    """U6 = + - @ (and a leading tab/CR) never start a cell; numbers stay numbers."""
    for text in ("=1+1", "+86 138", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("王主任") == "王主任" and safe_cell(-5) == -5 and safe_cell(None) == ""


def test_mask_phone_keeps_three_and_four_digits():
    assert mask_phone("+8613900005678") == "139****5678"
    assert mask_phone("139 0000 5678") == "139****5678"
    assert mask_phone("0571-87654321") == "0571****4321"
    assert mask_phone("") == ""


@pytest.mark.django_db
def test_customer_export_opens_in_excel_escaped_masked_scoped_and_logged(client, alice, charlie, caplog):
    """U6 导出 Excel: what the list shows (my customers only), formulas as text, phones masked, logged."""
    CustomerFactory(owner=alice, name='=HYPERLINK("http://evil","点我")', phone="13900005678")
    CustomerFactory(owner=alice, name="骨科", phone="")
    CustomerFactory(owner=charlie, name="别人的客户")
    client.force_login(alice)
    page = client.get("/customers/").content.decode()
    assert "导出 Excel" in page and "export=xlsx" in page
    with caplog.at_level(logging.INFO, logger="salesops.exports"):
        sheet = _sheet(client.get("/customers/", {"export": "xlsx"}))
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:2] == ["客户名称", "医院"] and rows[0][-1] == "电话"
    names = {row[0] for row in rows[1:]}
    assert names == {"'=HYPERLINK(\"http://evil\",\"点我\")", "骨科"}
    evil = next(row for row in sheet.iter_rows(min_row=2) if row[0].value.startswith("'="))
    assert evil[0].data_type == "s"  # a string cell, not a formula
    assert evil[-1].value == "139****5678"
    assert "13900005678" not in str(rows)
    assert any("export list=customers rows=2" in r.getMessage() and f"user={alice.pk}" in r.getMessage() for r in caplog.records)
    from salesops.models import AccessLog

    logged = AccessLog.objects.get(action="export")  # P3: the export is in the access log
    assert logged.user == alice and logged.subject_type.model == "customer" and "2" in logged.subject_id
    assert "export=xlsx" in logged.path


@pytest.mark.django_db
def test_lead_export_masks_phones_and_escapes_names(client, alice, bob):
    """U6 The lead lists export too: only my leads, @… escaped, the phone masked."""
    Lead.objects.create(contact_name="@SUM(1+1)", phone="+8613800001111", product_model="AK", status=LeadStatus.ASSIGNED,
                        assignee=alice, assigned_at=timezone.now())
    Lead.objects.create(contact_name="别人的", phone="+8613800002222", status=LeadStatus.ASSIGNED, assignee=bob,
                        assigned_at=timezone.now())
    client.force_login(alice)
    assert "/leads/export.xlsx" in client.get("/leads/").content.decode()
    sheet = _sheet(client.get("/leads/export.xlsx", {"scope": "mine", "state": "open"}))
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(values_only=False)]
    assert len(rows) == 2
    assert rows[1][1] == "'@SUM(1+1)" and rows[1][2] == "138****1111"
    assert client.get("/leads/export.xlsx", {"scope": "team"}).status_code == 403  # a rep has no team list


@pytest.mark.django_db
def test_my_visits_are_paged_sorted_and_date_filtered(client, alice):
    """U6 我的拜访 pages (50 a page) instead of 200 rows; sort keys are whitelisted; dates filter."""
    from visits.library import MEDICAL_CODE, install_library
    from visits.models import TemplateModule, VisitTask, VisitTemplate

    template = {t.code: t for t in install_library(VisitTemplate, TemplateModule)}[MEDICAL_CODE]
    today = timezone.localdate()
    for offset in range(60):  # test data only: the action lock would (rightly) refuse 60 open visits
        customer = CustomerFactory(owner=alice, name=f"客户{offset}")
        VisitTask.objects.create(rep=alice, customer=customer, template=template, due_date=today - timedelta(days=offset))
    client.force_login(alice)
    page = client.get("/visits/tasks/").content.decode()
    # K1: the page reads 51 rows instead of counting the table — a next link, no total.
    assert page.count('class="card-title"') == 50 and "page=2" in page and "共 60 条" not in page
    second = client.get("/visits/tasks/", {"page": 2}).content.decode()
    assert second.count('class="card-title"') == 10
    oldest_first = client.get("/visits/tasks/", {"sort": "date"}).content.decode()
    assert oldest_first.index((today - timedelta(days=59)).isoformat()) < oldest_first.index((today - timedelta(days=10)).isoformat())
    hostile = client.get("/visits/tasks/", {"sort": "rep__password"})
    assert hostile.status_code == 200  # an unknown key falls back to the default order
    week = client.get("/visits/tasks/", {"from": (today - timedelta(days=6)).isoformat(), "to": today.isoformat()}).content.decode()
    assert week.count('class="card-title"') == 7
    bad = client.get("/visits/tasks/", {"from": "2026-13-45"}).content.decode()
    assert "开始日期" in bad and "不是有效日期" in bad
    sheet = _sheet(client.get("/visits/tasks/", {"export": "xlsx", "from": (today - timedelta(days=6)).isoformat()}))
    assert sheet.max_row == 8


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "path", "export"),
    [
        ("alice", "/customers/", "/customers/?export=xlsx"),
        ("alice", "/hospitals/", "/hospitals/?export=xlsx"),
        ("alice", "/visits/tasks/", "/visits/tasks/?export=xlsx"),
        ("alice", "/leads/", "/leads/export.xlsx?scope=mine"),
        ("carol", "/leads/team/", "/leads/export.xlsx?scope=team"),
        ("alice", "/cash/", "/cash/?export=xlsx"),
        ("carol", "/cash/deals/", "/cash/deals/?export=xlsx"),
    ],
)
def test_every_list_offers_an_excel_export(client, request, who, path, export):
    """U6 "导出 Excel" on every list, and the file opens."""
    client.force_login(request.getfixturevalue(who))
    page = client.get(path).content.decode()
    assert "导出 Excel" in page
    sheet = _sheet(client.get(export))
    assert sheet.max_row >= 1 and sheet.cell(1, 1).value
