"""C3: reading bank exports as Chinese banks write them — the real samples in tests/cash/data
(see SOURCES.md) and generated corporate exports (GBK with a preamble, XLSX). The column map is
configured per account, never guessed."""

from datetime import date
from decimal import Decimal

import pytest

from leads.cash.bankfiles import PRESETS, StatementFileError, clean_text, parse_amount, parse_balance, parse_date, parse_statement

from .helpers import DATA
from .statement_files import Line, corporate_csv, corporate_xlsx


def parse(name: str, preset_or_map, account="测试账户"):
    column_map = PRESETS[preset_or_map]["map"] if isinstance(preset_or_map, str) else preset_or_map
    return parse_statement((DATA / name).read_bytes(), name, column_map, account)


def test_icbc_preamble_padding_masked_balance_and_totals():
    """C3: ICBC — header on line 7 after the preamble; values padded with spaces + TAB; amounts
    with thousands separators; masked balance kept as text; the blank and 合计 lines skipped."""
    result = parse("icbc_debit-v2_example-icbc-debit-v2-records.csv", "icbc_personal")
    assert (result.encoding, result.header_line, len(result.rows), result.skipped, result.errors) == ("utf-8", 7, 11, 2, [])
    incoming = next(row for row in result.rows if row.booked_on == date(2023, 4, 22))
    assert (incoming.amount, incoming.payer_name, incoming.memo) == (Decimal("1234.56"), "李四", "他行汇入")
    assert (incoming.balance, incoming.balance_text) == (None, "xx,yyyy.zz")
    assert result.rows[0].amount == Decimal("-13.40")
    assert "\t" not in result.rows[0].payer_name and result.rows[0].payer_name == "深圳市财付通支付科技有限公司"


def test_cmb_signed_amounts_and_joined_payer():
    """C3: CMB — one signed amount column; 对手信息 joins the name and the account. The sample's
    联机余额 does not run (rows 4–6 are out of order), so those lines are balance errors (F1)."""
    result = parse("cmb_debit_example-cmb-records.csv", "cmb_personal")
    assert [error["line"] for error in result.errors] == [4, 5, 6] and "余额不连续" in result.errors[0]["message"]
    first = result.rows[0]
    assert (first.amount, first.balance, first.payer_name, first.payer_account) == (
        Decimal("1234.00"), Decimal("1271.66"), "北京住房公积金管理中心", "1111111111"
    )
    assert [row.amount for row in result.rows][1:] == [Decimal("-1000.00")]


def test_boc_placeholders_are_empty():
    """C3: BOC — `-------------------` means empty; time kept; signed amounts."""
    result = parse("boc_debit_example-boc-records.csv", "boc_personal")
    assert len(result.rows) == 17 and not result.errors
    assert result.rows[0].memo == "无卡支付" and result.rows[0].booked_time == "17:57:17"
    incoming = [row for row in result.rows if row.amount > 0]
    assert [row.amount for row in incoming] == [Decimal("50.00"), Decimal("5771.00"), Decimal("3000.00"), Decimal("1000.00")]


def test_abc_ragged_rows_and_a_spaced_header():
    """C3: ABC — `日 志 号` matches the mapped 日志号; 7- and 9-field rows; +/− signs; HHMMSS times."""
    result = parse("abc_debit_example-abc_debit-records.csv", {k: v for k, v in PRESETS["abc_personal"]["map"].items() if k != "balance"})
    assert len(result.rows) == 5 and not result.errors
    assert (result.rows[0].amount, result.rows[0].reference, result.rows[0].booked_time) == (Decimal("10000.00"), "369396693", "12:34:56")
    assert result.rows[2].memo == "正常还款"
    # With 本次余额 read, the sample's balances do not run (11000 − 10 ≠ 11000): line errors (F1).
    checked = parse("abc_debit_example-abc_debit-records.csv", "abc_personal")
    assert [error["line"] for error in checked.errors] == [3, 4, 5] and len(checked.rows) == 2


def test_bocom_bank_side_flag_is_read_as_configured():
    """C3: BOCOM — 贷 Cr is money into our account (the bank's side), as the preset says."""
    result = parse("bocom_debit_example-bocom_debit-records.csv", "bocom_personal")
    assert [row.amount for row in result.rows] == [
        Decimal("1.23"), Decimal("-3.21"), Decimal("0.02"), Decimal("10.00"), Decimal("-10.00"), Decimal("-100.79")
    ]


def test_old_xls_with_text_amounts():
    """C3: CITIC — BIFF8 .xls (python-calamine); amounts are text cells; issuer-side signs negated."""
    column_map = {"date": "交易日期", "amount_mode": "signed", "amount": "交易金额", "negate": True, "memo": ["交易描述"]}
    result = parse("citic_credit_example-citic-records.xls", column_map)
    assert (result.encoding, result.header_line, len(result.rows)) == ("xls", 2, 13)
    assert (result.rows[0].amount, result.rows[1].amount) == (Decimal("-5.90"), Decimal("0.20"))


def test_xlsx_with_two_sheets_and_a_preamble():
    """C3: WeChat — .xlsx; the first sheet holding the mapped header is read; ¥ amounts as text."""
    column_map = {
        "date": "交易时间",
        "amount_mode": "flagged",
        "amount": "金额(元)",
        "direction": "收/支",
        "in_values": ["收入"],
        "out_values": ["支出", "/"],
        "payer_name": "交易对方",
        "memo": ["商品"],
        "reference": "交易单号",
    }
    result = parse("wechat_example-wechat-records.xlsx", column_map)
    assert (result.encoding, result.sheet, result.header_line, len(result.rows)) == ("xlsx", "example-wechat-records", 18, 27)
    assert result.rows[0].amount == Decimal("-28.16") and result.rows[1].amount == Decimal("0.35")
    assert result.rows[0].reference == "3985734"


def test_gbk_file_with_a_long_preamble():
    """C3: Alipay — GBK, 24 preamble lines, space-padded fields, trailing TABs."""
    column_map = {
        "date": "交易时间",
        "amount_mode": "flagged",
        "amount": "金额",
        "direction": "收/支",
        "in_values": ["收入"],
        "out_values": ["支出", "不计收支"],
        "payer_name": "交易对方",
        "memo": ["商品说明"],
        "reference": "交易订单号",
    }
    result = parse("alipay_2023_example-alipay-records_gbk.csv", column_map)
    assert (result.encoding, result.header_line, len(result.rows), result.errors) == ("gbk", 25, 10, [])
    assert next(row for row in result.rows if row.amount > 0).amount == Decimal("222228.50")


def test_generated_gbk_corporate_export_with_preamble_and_totals():
    """C3 (issue done-when): a GBK CSV with a preamble imports with the `generic` map."""
    lines = [
        Line(date(2026, 11, 3), credit=Decimal("32318.00"), balance="1,032,318.00", payer="浙江省人民医院", account="3301 0400 1234", memo="货款", note="QT202611-0001", reference="ICBC20261103001"),
        Line(date(2026, 11, 4), debit=Decimal("1200.50"), balance="1,031,117.50", payer="杭州顺丰速运有限公司", memo="运费"),
    ]
    data = corporate_csv(lines, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parse_statement(data, "工行对公.csv", PRESETS["generic"]["map"], "工行基本户")
    assert (result.encoding, result.header_line, result.skipped, result.errors) == ("gbk", 5, 2, [])
    first, second = result.rows
    assert (first.booked_on, first.amount, first.balance, first.payer_name, first.reference) == (
        date(2026, 11, 3), Decimal("32318.00"), Decimal("1032318.00"), "浙江省人民医院", "ICBC20261103001"
    )
    assert first.memo == "货款 / QT202611-0001"
    assert second.amount == Decimal("-1200.50")


def test_generated_xlsx_with_date_cells_and_numbers():
    lines = [Line(date(2026, 11, 3), credit=Decimal("1000.10"), payer="宁波市第一医院", reference="X1")]
    result = parse_statement(corporate_xlsx(lines), "对公.xlsx", PRESETS["generic"]["map"], "工行基本户")
    assert (result.encoding, len(result.rows), result.rows[0].booked_on, result.rows[0].amount) == ("xlsx", 1, date(2026, 11, 3), Decimal("1000.10"))


def test_a_map_that_does_not_fit_falls_back_to_the_matching_preset():
    """F1: a CMB file uploaded to an account mapped for ICBC corporate is recognised by its header
    (the account's map is tried first, then saved layouts, then presets) — no hand-written map."""
    result = parse("cmb_debit_example-cmb-records.csv", "icbc_corporate", account="工行基本户")
    assert result.layout == "cmb_personal" and result.rows[0].amount == Decimal("1234.00")


def test_cmb_credit_dates_without_a_year_take_it_from_the_statement_title():
    """F1: CMB credit writes `MM/DD`; the title says 2024年01月, so 12/29 is 2023-12-29. An empty
    交易日 falls back to 记账日. Issuer-side signs are negated: a repayment is money in."""
    result = parse("cmb_credit_example-cmb-records.csv", "cmb_credit")
    assert result.errors == []
    assert [(row.booked_on, row.amount) for row in result.rows][:4] == [
        (date(2023, 12, 29), Decimal("1.23")), (date(2023, 12, 30), Decimal("345.67")), (date(2024, 1, 1), Decimal("30.00")), (date(2024, 1, 2), Decimal("-56.78"))
    ]


def test_month_day_dates_without_any_period_are_line_errors():
    """F1: without a period in the preamble, `01/02` cannot be dated — a line error naming the column."""
    data = "交易日,交易摘要,人民币金额\n01/02,电影票,56.78\n2024-01-03,饭票,3.90\n".encode()
    result = parse_statement(data, "a.csv", {"date": "交易日", "amount_mode": "signed", "amount": "人民币金额", "memo": ["交易摘要"]}, "x")
    assert [(error["line"], error["column"], error["value"]) for error in result.errors] == [(2, "交易日", "01/02")]
    assert "无法识别的日期" in result.errors[0]["message"] and len(result.rows) == 1


def test_a_memo_saying_合计_is_still_a_data_row():
    lines = [Line(date(2026, 11, 3), credit=Decimal("500"), payer="浙江省人民医院", memo="两笔货款合计")]
    result = parse_statement(corporate_csv(lines, encoding="utf-8"), "a.csv", PRESETS["generic"]["map"], "x")
    assert len(result.rows) == 1 and result.rows[0].memo == "两笔货款合计"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CNY 123.18", Decimal("123.18")),
        (" 1,234.56 \t", Decimal("1234.56")),
        ("+10000.00", Decimal("10000.00")),
        ("¥28.16", Decimal("28.16")),
        ("￥1,000", Decimal("1000.00")),
        ("8,000.00(CN)", Decimal("8000.00")),
        ("(1,200.00)", Decimal("-1200.00")),
        ("人民币 99.9 元", Decimal("99.90")),
        (28.16, Decimal("28.16")),
        ("-", None),
        ("", None),
    ],
)
def test_amounts_as_banks_write_them(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "12..3", "1 2 3 x"])
def test_unreadable_amounts_raise(raw):
    with pytest.raises(ValueError):
        parse_amount(raw)


def test_masked_balances_and_dates():
    assert parse_balance("xx,yyyy.zz") == (None, "xx,yyyy.zz")
    assert parse_balance("****.**") == (None, "****.**")
    assert parse_balance(" 3,240.28 ") == (Decimal("3240.28"), "3,240.28")
    assert [parse_date(value) for value in ("2024-01-02", "2024/1/2", "20240102", "2024年1月2日", "2024-01-02 10:11:12", 45293.0)] == [date(2024, 1, 2)] * 6
    assert clean_text("  消费      \t") == "消费" and clean_text("-------------------") == ""
