"""Browser journey (A1): a supervisor imports the team's customer sheet — sees the bad row, fixes
the file, confirms, and finds the customers; the progress page swaps in the preview by itself."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from salesops.imports import import_parse
from salesops.models import Customer, ImportJob

from ..factories import HospitalFactory
from ..salesops.xlsx import CUSTOMER_HEADERS, xlsx_bytes

# The supervisors' browsers are Chinese; the page follows Accept-Language unless the person switched.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser_context_args(locale="zh-CN"),
]

# The machine may be busy (2 cores, several suites): wait longer than Playwright's 5 s default.
SLOW = 20_000

ROWS = [
    ["浙江省人民医院 骨科", "浙江省人民医院", "骨科", "王建国", "主任", "13812345678", "alice"],
    ["浙江省人民医院 脊柱外科", "浙江省人民医院", "脊柱外科", "李华", "院长", "0571-87654321", "bob"],
]


def _without_nav_badges(page):
    """The menu's htmx badges (other apps' counters) load with every page. Under test on SQLite the
    live server's request threads share ONE in-memory connection; a badge request running alongside
    another request can fail to read the session and then delete the session cookie (a logout in
    the middle of the journey). This journey is about the import, so the badges stay empty."""
    page.route(re.compile(r".*/badge/$"), lambda route: route.fulfill(status=200, body=""))


def test_supervisor_fixes_a_bad_row_and_imports_the_customers(page, login_page, live_server, carol, alice, bob, tmp_path):
    HospitalFactory(name="浙江省人民医院")
    bad = tmp_path / "客户-有错.xlsx"
    bad.write_bytes(xlsx_bytes(CUSTOMER_HEADERS, [ROWS[0], [*ROWS[1][:5], "0571-123", "bob"]]))
    good = tmp_path / "客户.xlsx"
    good.write_bytes(xlsx_bytes(CUSTOMER_HEADERS, ROWS))

    _without_nav_badges(page)
    login_page(carol)
    # Straight to the page: nav badges loading in (htmx) can shift the menu under a click.
    page.goto(f"{live_server.url}/imports/")
    page.get_by_role("link", name="上传 Excel").click()
    page.set_input_files("input[type=file]", str(bad))
    page.get_by_role("button", name="上传并预览").click()

    row = page.locator("tr.has-error")
    expect(row).to_have_count(1, timeout=SLOW)
    expect(row).to_contain_text("第 3 行 · 电话")
    expect(page.get_by_role("button", name=re.compile("确认导入"))).to_be_disabled()
    expect(page.get_by_text("只要有一行有错误，就不能确认")).to_be_visible()

    page.get_by_role("link", name="重新上传").first.click()
    page.set_input_files("input[type=file]", str(good))
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_text("共 2 行，其中 0 行有错误。")).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="确认导入全部 2 行").click()
    expect(page.get_by_text("已导入 2 条客户。").first).to_be_visible(timeout=SLOW)

    page.get_by_role("link", name="查看客户").click()
    expect(page.get_by_role("link", name="浙江省人民医院 骨科")).to_be_visible(timeout=SLOW)
    expect(page.get_by_role("link", name="浙江省人民医院 脊柱外科")).to_be_visible()
    assert Customer.objects.count() == 2


def test_progress_page_swaps_in_the_preview_when_parsing_ends(page, login_page, live_server, carol, alice):
    """A1: while parsing, the page polls every second (htmx) and shows the preview once ready."""
    HospitalFactory(name="浙江省人民医院")
    job = ImportJob(kind="customers", original_name="客户.xlsx", uploaded_by=carol, total_rows=1)
    job.file.save("客户.xlsx", ContentFile(xlsx_bytes(CUSTOMER_HEADERS, ROWS[:1])), save=False)
    job.save()  # no task queued: the test plays the worker

    _without_nav_badges(page)
    login_page(carol)
    page.goto(f"{live_server.url}/imports/job/{job.pk}/")
    expect(page.get_by_role("progressbar")).to_be_visible(timeout=SLOW)
    import_parse(job.pk)
    expect(page.get_by_role("button", name="确认导入全部 1 行")).to_be_enabled(timeout=SLOW)
    expect(page.get_by_role("progressbar")).to_have_count(0)
