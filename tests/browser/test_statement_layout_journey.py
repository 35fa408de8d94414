"""Browser journey (F1): a clerk uploads a statement of a layout no preset knows, maps its columns
once (with a preview), and the next file of that layout imports without the form."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from leads.cash.models import BankAccount, BankStatement, StatementLayout, StatementRow, StatementStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.browser_context_args(locale="zh-CN")]

HEADER = "记账日,收款金额,付款金额,交易对手,附言说明,账户余额"


def export(lines: list[str]) -> bytes:
    """A regional bank's corporate export: GBK, CRLF, a preamble and a footer."""
    return "\r\n".join(["某农商银行对公账户明细", "账号：33010400998877", HEADER, *lines, "以上数据仅供参考"]).encode("gbk")


def test_clerk_maps_an_unknown_layout_once_and_the_next_file_imports_without_the_form(login_page, live_server, olga, tmp_path):
    account = BankAccount.objects.create(name="农商行基本户", bank="generic", account_number="33010400998877", column_map={})
    first = tmp_path / "农商行11月.csv"
    first.write_bytes(export(["2026-11-03,32318.00,,浙江省人民医院,QT202611-0001,132318.00", "2026-11-04,,1200.50,顺丰速运,运费,131117.50"]))
    second = tmp_path / "农商行12月.csv"
    second.write_bytes(export(["2026-12-01,5000.00,,宁波市第一医院,QT202612-0002,136117.50"]))

    page = login_page(olga)
    page.goto(f"{live_server.url}/cash/statements/")
    page.locator("select[name=account]").select_option(str(account.pk))
    page.locator("input[name=file]").set_input_files(str(first))
    page.get_by_role("button", name="上传并导入").click()
    page.wait_for_url("**/cash/statements/*/")
    expect(page.locator("#statement-status")).to_contain_text("格式未识别")
    page.locator("#map-columns").click()
    page.wait_for_url("**/layout/")

    # The detected header and the sample rows are shown; pick the columns.
    expect(page.locator("#layout-samples thead")).to_contain_text("收款金额")
    expect(page.locator("#layout-samples tbody")).to_contain_text("浙江省人民医院")
    form = page.locator("#layout-form")
    form.locator("select[name=date]").select_option(label="记账日")
    form.locator("input[name=amount_mode][value=split]").check()
    form.locator("select[name=money_in]").select_option(label="收款金额")
    form.locator("select[name=money_out]").select_option(label="付款金额")
    form.locator("select[name=payer_name]").select_option(label="交易对手")
    form.locator("select[name=balance]").select_option(label="账户余额")
    form.get_by_role("checkbox", name="附言说明").check()
    form.locator("input[name=name]").fill("农商行对公明细")
    form.get_by_role("button", name="预览").click()
    expect(page.locator("#layout-preview")).to_contain_text("2 行可导入，0 行有问题")
    expect(page.locator("#layout-preview")).to_contain_text("-1200.50")
    page.locator("#layout-form").get_by_role("button", name="保存并导入").click()
    page.wait_for_url("**/cash/statements/*/")
    expect(page.locator("#statement-status")).to_contain_text("已导入")
    assert sorted(StatementRow.objects.values_list("amount", flat=True)) == [Decimal("-1200.50"), Decimal("32318.00")]
    layout = StatementLayout.objects.get()
    assert layout.name == "农商行对公明细" and layout.account == account

    # The next month's file: no form, imported at once.
    page.goto(f"{live_server.url}/cash/statements/")
    page.locator("select[name=account]").select_option(str(account.pk))
    page.locator("input[name=file]").set_input_files(str(second))
    page.get_by_role("button", name="上传并导入").click()
    page.wait_for_url("**/cash/statements/*/")
    expect(page.locator("#statement-status")).to_contain_text("已导入")
    assert page.locator("#map-columns").count() == 0
    statement = BankStatement.objects.latest("pk")
    assert (statement.status, statement.new_rows, statement.layout) == (StatementStatus.DONE, 1, "农商行对公明细")
    assert StatementRow.objects.filter(statement=statement).get().amount == Decimal("5000.00")
