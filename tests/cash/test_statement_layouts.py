"""F1: statements read without hand-written maps — every real sample through `parse_statement --json`
with signed amounts verified by reading the files, every direction convention, any footer, TSV,
HTML-as-.xls, GB18030, BOM + CRLF, currency in the cell, foreign rows, the running balance."""

import io
import json
from contextlib import redirect_stdout
from decimal import Decimal

import pytest
from django.core.management import call_command

from leads.cash.bankfiles import UnknownLayout, parse_statement
from leads.cash.layouts import column_map_from_choices, known_layouts
from leads.cash.models import StatementLayout

from .helpers import DATA

# (file, layout, rows, signed sum, money in, lines with errors, exit code) — checked by reading each
# file: e.g. BOC debit's money in is 50 + 5,771 + 3,000 + 1,000; CMB credit's repayments (negative on
# the issuer's side) are +1.23 +345.67 +30.00 +3.90; Alipay's 不计收支 and WeChat's `/` rows are errors,
# never income; ABC, CMB debit and ICBC credit have masked balances that do not run (line errors).
SAMPLES = [
    ("abc_debit_example-abc_debit-records.csv", "abc_personal", 2, "10000.00", "10000.00", [3, 4, 5], 2),
    ("alipay_2023_example-alipay-records_gbk.csv", "alipay", 6, "222016.86", "222228.50", [28, 29, 31, 32], 2),
    ("boc_credit_example-boc-records.csv", "boc_credit", 13, "-238.25", "989.84", [16], 2),
    ("boc_debit_example-boc-records.csv", "boc_personal", 17, "426.70", "9821.00", [], 0),
    ("bocom_credit_example-bocom_credit-records.csv", "bocom_credit", 6, "768.04", "791.77", [], 0),
    ("bocom_debit_example-bocom_debit-records.csv", "bocom_personal", 6, "-102.75", "11.25", [], 0),
    ("cgb_credit_example-cgb_credit-records.csv", "cgb_credit", 4, "824.56", "1227.88", [], 0),
    ("cmb_credit_example-cmb-records.csv", "cmb_credit", 6, "-7675.98", "380.80", [], 0),
    ("cmb_debit_example-cmb-records.csv", "cmb_personal", 2, "234.00", "1234.00", [4, 5, 6], 2),
    ("icbc_credit_example-icbc-credit-records.csv", "icbc_credit", 4, "-95.45", "0", [8, 11, 12, 13, 14], 2),
    ("icbc_debit-v2_example-icbc-debit-v2-records.csv", "icbc_personal", 11, "-1399.34", "2841.74", [], 0),
    ("wechat_example-wechat-records.csv", "wechat", 16, "-2876.04", "28.49", list(range(23, 34)), 2),
    ("citic_credit_example-citic-records.xls", "citic_credit", 13, "-1097.39", "1.41", [], 0),
    ("wechat_example-wechat-records.xlsx", "wechat", 16, "-2876.04", "28.49", list(range(24, 35)), 2),
]


def run_parse(path, *extra) -> tuple[dict, int]:
    out = io.StringIO()
    code = 0
    with redirect_stdout(out):
        try:
            call_command("parse_statement", str(path), "--json", *extra, stdout=out)
        except SystemExit as exit_:
            code = exit_.code
    return json.loads(out.getvalue()), code


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "layout", "count", "total", "money_in", "error_lines", "exit_code"), SAMPLES)
def test_parse_statement_json_gives_signed_amounts_for_every_sample(name, layout, count, total, money_in, error_lines, exit_code):
    """F1: every real sample, no account, no map: the layout is recognised and amounts are signed
    from the holder's side (money in > 0); exit 0 only when every row parsed."""
    payload, code = run_parse(DATA / name)
    amounts = [Decimal(row["amount"]) for row in payload["rows"]]
    assert payload["layout"] == layout
    assert (len(amounts), sum(amounts), sum(a for a in amounts if a > 0)) == (count, Decimal(total), Decimal(money_in))
    assert sorted(error["line"] for error in payload["errors"]) == error_lines
    assert code == exit_code
    assert set(payload) == {"layout", "rows", "errors"}
    assert all(set(row) == {"date", "amount", "payer", "account", "memo", "reference"} for row in payload["rows"])
    assert all(len(row["date"]) == 10 and row["amount"].count(".") == 1 for row in payload["rows"])


def test_alipay_neutral_rows_are_errors_naming_the_column_never_income():
    """F1: 不计收支 (Alipay) is neither in nor out: a line error with the column and the value."""
    result = parse_statement((DATA / "alipay_2023_example-alipay-records_gbk.csv").read_bytes(), "alipay.csv")
    error = result.errors[0]
    assert (error["line"], error["column"], error["value"]) == (28, "收/支", "不计收支")
    assert "既不是收入也不是支出" in error["message"]
    assert all(row.amount != Decimal("16.03") for row in result.rows)


# --- Generated files for the conventions the samples lack ------------------------------------------

CORPORATE = ["账号：3301040012345678", "户名：杭州某某医疗器械有限公司", "", "交易日期,对方户名,收/支,金额,余额,用途"]


def corporate(lines: list[str], footer: list[str] = (), encoding="gb18030", newline="\r\n", bom=b"") -> bytes:
    return bom + newline.join(CORPORATE + lines + list(footer)).encode(encoding)


FLAGGED = {"date": "交易日期", "amount_mode": "flagged", "amount": "金额", "direction": "收/支", "in_values": ["收"], "out_values": ["支"], "payer_name": "对方户名", "balance": "余额", "memo": ["用途"]}


def test_a_收支_column_with_其他_gives_a_line_error_not_income():
    """F1: the issue's silent-sign case — 收/支/其他: 其他 is a line error; 收 in, 支 out."""
    data = corporate(["2026-11-03,浙江省人民医院,收,32318.00,132318.00,货款", "2026-11-04,顺丰,支,1200.50,131117.50,运费", "2026-11-05,某某,其他,500.00,131117.50,冲正"])
    result = parse_statement(data, "对公.csv", FLAGGED)
    assert [row.amount for row in result.rows] == [Decimal("32318.00"), Decimal("-1200.50")]
    assert [(e["line"], e["column"], e["value"]) for e in result.errors] == [(7, "收/支", "其他")]


def test_a_negative_amount_in_the_credit_column_is_money_out():
    """F1: never abs(): −300 in 贷方金额 is a reversal, i.e. money out of the account."""
    data = "交易日期,贷方金额,借方金额,对方户名,摘要\n2026-11-03,-300.00,,医院,冲正\n2026-11-04,500.00,,医院,货款\n".encode()
    result = parse_statement(data, "a.csv")
    assert [row.amount for row in result.rows] == [Decimal("-300.00"), Decimal("500.00")]


def test_a_direction_word_at_the_start_of_the_description():
    """F1: no sign, no direction column: `收入-货款` / `支出-运费`; a description without one is an error."""
    data = "交易日期,交易说明,入账币种/金额\n2026-11-03,收入-货款 浙江省人民医院,CNY13.50\n2026-11-04,支出-运费,CNY 2.00\n2026-11-05,调整,CNY 1.00\n".encode()
    result = parse_statement(data, "a.csv")
    assert result.layout == "bocom_credit"
    assert [row.amount for row in result.rows] == [Decimal("13.50"), Decimal("-2.00")]
    assert [(e["line"], e["value"]) for e in result.errors] == [(4, "调整")]


def test_footers_of_any_wording_end_the_data_and_bom_crlf_gb18030_are_read():
    """F1: `以上数据仅供参考…`, a signature and a blank line after the data are not data lines;
    a GB18030 file with CRLF and a UTF-8 file with a BOM read the same."""
    lines = ["2026-11-03,浙江省人民医院,收,32318.00,132318.00,货款𠀀", "2026-11-04,顺丰,支,1200.50,131117.50,运费"]
    footer = ["", "以上数据仅供参考，以银行柜台打印为准", "打印人：王五,打印时间：2026-11-30"]
    for data in (corporate(lines, footer), corporate(lines, footer, encoding="utf-8", newline="\n", bom=b"\xef\xbb\xbf")):
        result = parse_statement(data, "对公.csv", FLAGGED)
        assert (len(result.rows), result.errors, result.footer_lines) == (2, [], 2)
        assert result.rows[0].memo == "货款𠀀"


def test_tab_separated_text_and_html_saved_as_xls():
    """F1: online banking's TSV and HTML-table ".xls" exports are read as tables, not refused."""
    tsv = "交易日期\t对方户名\t收/支\t金额\t余额\t用途\r\n2026-11-03\t医院\t收\t100.00\t100.00\t货款\r\n".encode("utf-16")
    html = (
        "<html><head><meta charset='utf-8'></head><body><table><tr><td colspan=6>账户明细</td></tr>"
        "<tr><th>交易日期</th><th>对方户名</th><th>收/支</th><th>金额</th><th>余额</th><th>用途</th></tr>"
        "<tr><td>2026-11-03</td><td>浙江省人民医院</td><td>收</td><td>1,000.00</td><td>1,000.00</td><td>货款</td></tr>"
        "<tr><td>2026-11-04</td><td>顺丰</td><td>支</td><td>￥12.00</td><td>988.00</td><td>运费</td></tr></table></body></html>"
    ).encode("gbk")
    tsv_result = parse_statement(tsv, "明细.txt", FLAGGED)
    html_result = parse_statement(html, "明细.xls", FLAGGED)
    assert [row.amount for row in tsv_result.rows] == [Decimal("100.00")]
    assert (html_result.encoding, [row.amount for row in html_result.rows]) == ("gbk", [Decimal("1000.00"), Decimal("-12.00")])


def test_foreign_currency_rows_are_refused_one_by_one():
    """F1: `USD 3.72` in the amount cell or a 币种 column saying USD refuses that line only."""
    data = "交易日期,交易说明,入账币种/金额\n2026-11-03,收入 货款,CNY13.50\n2026-11-04,消费 XBOX,USD 3.72\n".encode()
    result = parse_statement(data, "a.csv")
    assert [row.amount for row in result.rows] == [Decimal("13.50")]
    assert result.errors[0]["line"] == 3 and "外币" in result.errors[0]["message"] and "USD" in result.errors[0]["message"]


def test_a_broken_running_balance_is_a_line_error():
    """F1: balances must run: 100 + 50 = 150, but the file says 170 — the line is refused."""
    data = corporate(["2026-11-03,医院,收,100.00,100.00,货款", "2026-11-04,医院,收,50.00,170.00,货款", "2026-11-05,医院,收,10.00,180.00,货款"])
    result = parse_statement(data, "对公.csv", FLAGGED)
    assert [e["line"] for e in result.errors] == [6] and "余额不连续" in result.errors[0]["message"]
    assert "150.00" in result.errors[0]["message"] and [row.amount for row in result.rows] == [Decimal("100.00"), Decimal("10.00")]


def test_alipay_old_export_is_recognised():
    """F1: Alipay's old export (交易号 … 金额（元）,收/支 …) — layout as published in public parsers."""
    data = (
        "支付宝交易记录明细查询\n账号:[x@example.com]\n"
        "交易号,商户订单号,交易创建时间,付款时间,最近修改时间,交易来源地,类型,交易对方,商品名称,金额（元）,收/支,交易状态,服务费（元）,成功退款（元）,备注,资金状态\n"
        "2026041622001,O1,2026-04-16 10:30:00,2026-04-16 10:30:01,2026-04-16 10:30:01,其他,即时到账交易,浙江省人民医院,货款,100.00,收入,交易成功,0.60,0.00,,已收入\n"
        "2026041622002,O2,2026-04-16 11:30:00,,,其他,即时到账交易,顺丰,运费,12.00,支出,交易成功,0.00,0.00,,已支出\n"
        "2026041622003,O3,2026-04-16 12:30:00,,,其他,即时到账交易,余额宝,转入,50.00,,交易成功,0.00,0.00,,资金转移\n"
        "------------------------------------------------------------------------------------\n共3笔记录\n已收入:1笔,100.00元\n"
    ).encode("gbk")
    result = parse_statement(data, "alipay_record.csv")
    assert result.layout == "alipay_old"
    assert [(row.amount, row.reference) for row in result.rows] == [(Decimal("100.00"), "2026041622001"), (Decimal("-12.00"), "2026041622002")]
    assert [e["line"] for e in result.errors] == [6]


def test_an_unknown_layout_carries_its_header_and_samples_then_a_saved_layout_is_found_by_fingerprint(db, olga):
    """F1: an unknown header raises UnknownLayout with the header cells and sample rows; once a
    clerk's mapping is saved for its fingerprint, the same header parses with no account map."""
    data = "记账日,收款金额,付款金额,交易对手,附言说明\n2026-11-03,100.00,,浙江省人民医院,QT-1\n2026-11-04,,20.00,顺丰,运费\n".encode()
    with pytest.raises(UnknownLayout) as unknown:
        parse_statement(data, "某银行.csv")
    assert unknown.value.header == ["记账日", "收款金额", "付款金额", "交易对手", "附言说明"] and len(unknown.value.samples) == 2
    assert "某银行.csv" in str(unknown.value) and "设置列映射" in str(unknown.value)
    column_map = column_map_from_choices(unknown.value.header, {"amount_mode": "split", "date": "0", "money_in": "1", "money_out": "2", "payer_name": "3", "memo": ["4"]})
    StatementLayout.objects.create(name="某银行", fingerprint=unknown.value.fingerprint, header=unknown.value.header, column_map=column_map, created_by=olga)
    result = parse_statement(data, "某银行2.csv", None, "", known_layouts())
    assert (result.layout, [row.amount for row in result.rows]) == ("某银行", [Decimal("100.00"), Decimal("-20.00")])
