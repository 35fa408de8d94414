"""Browser journey (C1, C2) on a phone: build a quote with two products, send it, download the
PDF, confirm it, record a payment, and watch the progress bar move."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from leads.cash.models import Deal, Payment, QuoteStatus, QuoteVersion
from tests.factories import CustomerFactory, HospitalFactory, ProductFactory, ProductLineFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.browser_context_args(locale="zh-CN", viewport={"width": 390, "height": 844})]


def test_rep_quotes_sends_confirms_and_records_a_payment(login_page, live_server, alice):
    hospital = HospitalFactory(name="浙江省人民医院")
    customer = CustomerFactory(department__hospital=hospital, owner=alice, name="浙江省人民医院 骨科")
    hip = ProductFactory(model_number="AK-HIP-01", name="人工髋关节假体（生物型）", list_price=Decimal("28600.00"))
    spine = ProductLineFactory(code="spine", name="脊柱类")
    screw = ProductFactory(model_number="SP-PED-01", name="椎弓根螺钉系统", line=spine, list_price=Decimal("9800.00"))

    page = login_page(alice)
    page.goto(f"{live_server.url}/cash/quotes/new/?customer={customer.pk}")
    page.get_by_role("button", name="创建报价").click()
    page.wait_for_url("**/cash/quotes/*/")

    # Build: two products through htmx, then a discount edited in place.
    add = page.locator("form.add-line")
    add.locator("select[name=product]").select_option(str(hip.pk))
    add.locator("input[name=quantity]").fill("2")
    add.get_by_role("button", name="添加产品").click()
    page.get_by_text("AK-HIP-01").first.wait_for()
    page.locator("form.add-line select[name=product]").select_option(str(screw.pk))
    page.locator("form.add-line").get_by_role("button", name="添加产品").click()
    page.get_by_text("SP-PED-01").first.wait_for()
    expect(page.locator("#quote-total")).to_have_text("¥75,710.00")
    screw_line = page.locator(".quote-line", has_text="SP-PED-01")
    screw_line.locator("input[name=discount_percent]").fill("5")
    screw_line.locator("input[name=discount_percent]").dispatch_event("change")
    expect(page.locator("#quote-total")).to_have_text("¥75,156.30")

    # Send, and download the frozen version as a PDF.
    page.get_by_role("button", name="发送报价（冻结此版本）").click()
    page.wait_for_load_state()
    assert "已发送" in page.locator("#version-status").inner_text()
    assert page.locator("form.add-line").count() == 0  # frozen: no more editing
    with page.expect_download() as download:
        page.get_by_role("link", name="下载 PDF").click()
    pdf = open(download.value.path(), "rb").read()
    assert pdf.startswith(b"%PDF") and download.value.suggested_filename.endswith("-v1.pdf")

    # The customer confirms: two instalments, the won deal opens.
    page.get_by_role("link", name="客户已确认").click()
    page.locator("input[name=instalments]").fill("2")
    page.get_by_role("button", name="确认并生成赢单").click()
    page.wait_for_url("**/cash/deals/*/")
    version = QuoteVersion.objects.get()
    assert version.status == QuoteStatus.CONFIRMED and version.confirmed_at
    deal = Deal.objects.get()
    assert page.locator("#deal-progress .progress-line").get_attribute("data-percent") == "0"

    # Record the first instalment (pre-filled) and watch the bar move to 50 %.
    page.get_by_role("button", name="记录回款").click()
    expect(page.locator("#deal-progress .progress-line")).to_have_attribute("data-percent", "50")
    expect(page.locator("#deal-progress")).to_contain_text("50%")
    payment = Payment.objects.get()
    assert (payment.amount, payment.recorded_by, payment.pushed_by) == (Decimal("37578.15"), alice, alice)
    assert deal.receivables.get(sequence=1).paid_amount == Decimal("37578.15")
