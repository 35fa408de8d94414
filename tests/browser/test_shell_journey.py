"""U1/U6 on a 390×844 phone: the rep's bottom tabs and home numbers, the 更多 sheet, and an Excel
export downloaded from a list and opened with openpyxl."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from leads.models import Lead, LeadStatus
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def test_rep_on_a_phone_sees_tabs_home_numbers_and_more(login_page, live_server, alice):
    """U1 Bottom tab bar with 5 destinations, today's numbers on home, the rest one tap away."""
    Lead.objects.create(contact_name="王主任", phone="+8613800001111", status=LeadStatus.ASSIGNED, assignee=alice,
                        assigned_at=timezone.now())
    page = login_page(alice)
    page.set_viewport_size(PHONE)
    page.reload()
    tabs = page.locator("nav.appnav > a.tab")
    assert tabs.count() == 5
    box = page.locator("nav.appnav").bounding_box()
    assert box["y"] + box["height"] >= PHONE["height"] - 2  # docked at the bottom of the screen
    for index in range(tabs.count()):
        assert tabs.nth(index).is_visible()
    card = page.locator("a.stat", has_text="我的待办线索")
    assert card.locator(".stat-value").inner_text() == "1"
    countdown = card.locator("time.countdown")
    assert countdown.is_visible()
    page.wait_for_function("document.querySelector('time.countdown').textContent.startsWith('还剩')")
    assert page.locator("a.stat", has_text="今日拜访").is_visible()
    assert page.locator("a.stat", has_text="本月贡献值").is_visible()
    customers = page.locator("nav.appnav .more-sheet a", has_text="客户")
    assert not customers.is_visible()
    page.locator("nav.appnav details.more > summary").click()
    assert customers.is_visible()
    assert page.locator("nav.appnav a[href='/dashboards/board/']").count() == 0
    customers.click()
    page.wait_for_url(f"{live_server.url}/customers/")


def test_rep_exports_customers_to_excel_from_the_phone(login_page, live_server, alice):
    """U6 导出 Excel from a list card view; the file opens and formula-looking text stays text."""
    CustomerFactory(owner=alice, name="=1+1 骨科", phone="13900005678")
    page = login_page(alice)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/customers/")
    assert page.locator("table.cards td.card-title").first.is_visible()
    assert page.locator("table.cards thead").is_hidden()  # cards, not a squeezed table
    with page.expect_download() as download_info:
        page.get_by_text("导出 Excel").click()
    download = download_info.value
    assert download.suggested_filename.startswith("customers-") and download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(BytesIO(open(download.path(), "rb").read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "客户名称"
    assert rows[1][0] == "'=1+1 骨科" and rows[1][-1] == "139****5678"
