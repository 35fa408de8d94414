"""Browser journeys on a phone. C1, C2: build a quote with two products, send it, download the PDF,
confirm it, record a payment, and watch the progress bar move. C4–C6: quote v1 → send → revise →
v2 at the new price → send → confirm → deal on a milestone plan → partial bank allocation by finance
→ reversal → the progress bar goes back."""

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
    page.locator("select[name=plan_template]").select_option("")  # equal instalments, not the milestone template
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
    assert (payment.amount, payment.recorded_by, payment.pushed_by) == (Decimal("37578.15"), alice, None)  # T4: a rep names no pusher
    assert deal.receivables.get(sequence=1).paid_amount == Decimal("37578.15")


def test_revise_confirm_milestones_partial_bank_allocation_and_reversal(login_page, live_server, page, alice, olga, tmp_path):
    """C4–C6 (done-when) as the real personas: alice quotes, revises after a price change and sends
    v2; the customer confirms on the 30/40/20/10 milestone plan; olga uploads the bank statement,
    allocates ¥10,000 of a ¥50,000 row (the remainder shows), then reverses it: progress back to 0."""
    from leads.cash.models import Receivable, RowStatus, StatementRow
    from tests.cash.statement_files import Line, corporate_csv
    from leads.cash.bankfiles import PRESETS
    from leads.cash.models import BankAccount
    from django.utils import timezone

    hospital = HospitalFactory(name="浙江大学医学院附属邵逸夫医院")
    customer = CustomerFactory(department__hospital=hospital, owner=alice, name="邵逸夫医院 骨科")
    knee = ProductFactory(model_number="AK-KNEE-01", name="人工膝关节", list_price=Decimal("20000.00"))
    account = BankAccount.objects.create(name="工行基本户", bank="generic", column_map=PRESETS["generic"]["map"])
    # The milestone template ops keep (migration 0005 installs it; a transactional test flushes it).
    from leads.cash.models import PlanTemplate, PlanTemplateItem

    template, created = PlanTemplate.objects.get_or_create(name="设备标准：预付30%/到货40%/验收20%/质保金10%", defaults={"is_default": True})
    for order, (milestone, percent, rule, days, months) in enumerate(
        [("prepayment", 30, "on_signing", 15, 0), ("delivery", 40, "on_delivery", 30, 0), ("acceptance", 20, "on_acceptance", 30, 0), ("warranty", 10, "months_after_acceptance", 0, 12)],
        start=1,
    ):
        if created:
                PlanTemplateItem.objects.create(template=template, order=order, milestone=milestone, percent=percent, due_rule=rule, offset_days=days, offset_months=months)

    page = login_page(alice)
    page.goto(f"{live_server.url}/cash/quotes/new/?customer={customer.pk}")
    page.get_by_role("button", name="创建报价").click()
    page.wait_for_url("**/cash/quotes/*/")
    page.locator("form.add-line select[name=product]").select_option(str(knee.pk))
    page.locator("form.add-line").get_by_role("button", name="添加产品").click()
    expect(page.locator("#quote-total")).to_have_text("¥22,600.00")
    page.get_by_role("button", name="发送报价（冻结此版本）").click()
    expect(page.locator("#version-status")).to_contain_text("v1 · 已发送")

    # The price list changes; revising makes v2 at the new price.
    knee.list_price = Decimal("21000.00")
    knee.save()
    page.get_by_role("button", name="修改报价（生成新版本）").click()
    expect(page.locator("#version-status")).to_contain_text("v2 · 草稿")
    expect(page.locator("#quote-total")).to_have_text("¥23,730.00")
    page.get_by_role("link", name="版本对比").click()
    expect(page.locator("td[data-field=unit_price]")).to_contain_text("20,000.00 → 21,000.00")
    page.go_back()
    page.get_by_role("button", name="发送报价（冻结此版本）").click()
    expect(page.locator("#version-status")).to_contain_text("v2 · 已发送")

    # Confirm on the milestone template (preselected), the deal opens at 0 %.
    page.get_by_role("link", name="客户已确认 v2").click()
    assert page.locator("select[name=plan_template] option:checked").inner_text().startswith("设备标准")
    page.get_by_role("button", name="确认并生成赢单").click()
    page.wait_for_url("**/cash/deals/*/")
    deal = Deal.objects.get()
    assert [r.milestone for r in deal.receivables.all()] == ["prepayment", "delivery", "acceptance", "warranty"]
    expect(page.locator("#deal-progress .progress-line")).to_have_attribute("data-percent", "0")
    expect(page.locator("#deal-payments")).to_contain_text("质保金")

    # Finance: the bank statement arrives with one ¥50,000 line from 邵逸夫医院.
    page.context.clear_cookies()
    login_page(olga)
    data = corporate_csv([Line(timezone.localdate(), credit=Decimal("50000.00"), payer="邵逸夫医院", account="6222000123456789", reference="R1")])
    statement_file = tmp_path / "工行流水.csv"
    statement_file.write_bytes(data)
    page.goto(f"{live_server.url}/cash/statements/")
    page.locator("select[name=account]").select_option(str(account.pk))
    page.locator("input[name=file]").set_input_files(str(statement_file))
    page.get_by_role("button", name="上传并导入").click()
    page.wait_for_url("**/cash/statements/*/")
    row = StatementRow.objects.get()
    prepayment = deal.receivables.get(sequence=1)
    page.goto(f"{live_server.url}/cash/review/{row.pk}/")
    page.locator("select[name=alloc-0-receivable]").select_option(str(prepayment.pk))
    page.locator("input[name=alloc-0-amount]").fill("7119.00")
    page.get_by_role("button", name="确认分配并记录回款").click()
    page.wait_for_url("**/cash/review/")
    row.refresh_from_db()
    assert (row.status, row.remainder) == (RowStatus.PARTIAL, Decimal("42881.00"))
    expect(page.locator(f"#row-{row.pk}")).to_contain_text("42,881.00")

    # The deal moved to 30 %; finance reverses the payment and the bar goes back to 0 %.
    page.goto(f"{live_server.url}/cash/deals/{deal.pk}/")
    expect(page.locator("#deal-progress .progress-line")).to_have_attribute("data-percent", "30")
    payment_item = page.locator("#payment-list li", has_text="7,119.00").first
    payment_item.locator("input[name=reason]").fill("分错交易，应为另一合同")
    payment_item.get_by_role("button", name="冲销").click()
    expect(page.locator("#deal-progress .progress-line")).to_have_attribute("data-percent", "0")
    expect(page.locator("#payment-list")).to_contain_text("已冲销")
    assert Receivable.objects.get(pk=prepayment.pk).paid_amount == Decimal("0.00")
    assert Payment.objects.filter(reverses__isnull=False).count() == 1 and Payment.objects.count() == 2
    row.refresh_from_db()
    assert row.remainder == Decimal("50000.00")
