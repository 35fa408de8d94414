"""Reading Chinese bank-statement exports (C3, F1): CSV/TSV (UTF-8, UTF-16, GBK/GB18030, BOM, CRLF),
XLSX, old BIFF .xls, and HTML tables saved as ".xls" — through `salesops.spreadsheets`.

A statement's layout is recognised, not hand-written: the header row is found and matched, in order,
against the account's own column map, the layouts clerks saved for a header fingerprint, and the
presets below (big banks' corporate and personal exports, credit cards, WeChat Pay, Alipay old and
new). A file that matches none raises `UnknownLayout`, which carries the detected header cells and
sample rows for the mapping form (`leads.cash.layouts`).

Directions, all read from the account holder's side (money in > 0), never with abs():
- `split`: money in and money out columns; amount = in − out, so a negative credit is money out;
- `signed`: one signed amount (`negate` for card issuers, where a purchase is positive);
- `flagged`: a 收/支 or 借/贷 column; any value not configured (其他, 不计收支, `/`) is a line error;
- `described`: a direction word at the start of the description (`消费 美团`, `退货 …`, `收入-货款`).

Data ends at the footer, whatever it says: rows after the last dated row are not data (totals,
`以上数据仅供参考…`, Alipay's export notes), unless one of them still looks like a transaction.
A currency column or a currency in the amount cell (`CNY13.50`, `USD 3.72`) refuses foreign-currency
rows one by one. A balance column is checked as a running balance; a break is a line error.

`parse_statement(data, filename, column_map, account_name, known_layouts)` returns every data row or
a line-level error for it; the import service (`leads.cash.statements`) decides what to write.
Pure functions, no database.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from salesops.spreadsheets import TableFileError, read_table_file

# --- Presets -----------------------------------------------------------------------------------
# Field keys: date (one header or several, the first non-empty wins), time, amount_mode
# (split | signed | flagged | described), money_in / money_out (split), amount (+ direction,
# in_values, out_values for flagged; negate for issuer-side signs; description for described),
# balance, payer_name, payer_account, memo (list), reference, currency.
PRESETS: dict[str, dict] = {
    "generic": {
        "label": gettext_lazy("通用格式（交易日期 / 贷方金额 / 借方金额 / 对方户名 / 摘要 / 流水号）"),
        "map": {
            "date": "交易日期",
            "amount_mode": "split",
            "money_in": "贷方金额",
            "money_out": "借方金额",
            "balance": "余额",
            "payer_name": "对方户名",
            "payer_account": "对方账号",
            "memo": ["摘要", "附言"],
            "reference": "流水号",
        },
    },
    "icbc_corporate": {
        "label": gettext_lazy("工商银行 · 企业网银历史明细"),
        "map": {
            "date": "交易日期",
            "amount_mode": "split",
            "money_in": "贷方发生额",
            "money_out": "借方发生额",
            "balance": "余额",
            "payer_name": "对方单位名称",
            "payer_account": "对方账号",
            "memo": ["摘要", "用途"],
            "reference": "凭证号",
        },
    },
    "icbc_personal": {
        "label": gettext_lazy("工商银行 · 个人网银明细下载"),
        "map": {
            "date": "交易日期",
            "amount_mode": "split",
            "money_in": "记账金额(收入)",
            "money_out": "记账金额(支出)",
            "balance": "余额",
            "payer_name": "对方户名",
            "payer_account": "对方账户",
            "memo": ["摘要", "交易详情", "交易场所"],
            "currency": "记账币种",
        },
    },
    "icbc_credit": {
        "label": gettext_lazy("工商银行 · 信用卡明细下载"),
        "map": {
            "date": "交易日期",
            "amount_mode": "split",
            "money_in": "记账金额(收入)",
            "money_out": "记账金额(支出)",
            "balance": "余额",
            "payer_name": "对方户名",
            "memo": ["摘要", "交易场所"],
            "currency": "记账币种",
        },
    },
    "cmb_corporate": {
        "label": gettext_lazy("招商银行 · 企业网银交易明细"),
        "map": {
            "date": "交易日",
            "time": "交易时间",
            "amount_mode": "split",
            "money_in": "贷方金额",
            "money_out": "借方金额",
            "balance": "余额",
            "payer_name": "收(付)方名称",
            "payer_account": "收(付)方帐号",
            "memo": ["摘要", "用途"],
            "reference": "流水号",
        },
    },
    "cmb_personal": {
        "label": gettext_lazy("招商银行 · 个人交易流水"),
        "map": {
            "date": "记账日期",
            "amount_mode": "signed",
            "amount": "交易金额",
            "balance": "联机余额",
            "payer_name": "对手信息",
            "memo": ["交易摘要", "客户摘要"],
            "currency": "货币",
        },
    },
    "cmb_credit": {
        # The issuer's sign: a purchase is positive, a repayment negative. Dates are MM/DD; the
        # year comes from the title (`2024年01月`).
        "label": gettext_lazy("招商银行 · 信用卡对账单"),
        "map": {
            "date": ["交易日", "记账日"],
            "amount_mode": "signed",
            "amount": "人民币金额",
            "negate": True,
            "memo": ["交易摘要"],
        },
    },
    "boc_personal": {
        "label": gettext_lazy("中国银行 · 交易流水明细单"),
        "map": {
            "date": "记账日期",
            "time": "记账时间",
            "amount_mode": "signed",
            "amount": "金额",
            "balance": "余额",
            "payer_name": "对方账户名",
            "payer_account": "对方卡号/账号",
            "memo": ["交易名称", "附言"],
            "currency": "币别",
        },
    },
    "boc_credit": {
        "label": gettext_lazy("中国银行 · 信用卡账单"),
        "map": {
            "date": "交易日",
            "amount_mode": "split",
            "money_in": "存入",
            "money_out": "支出",
            "memo": ["交易描述"],
            "currency": "币种",
        },
    },
    "abc_personal": {
        "label": gettext_lazy("农业银行 · 活期明细"),
        "map": {
            "date": "交易日期",
            "time": "交易时间",
            "amount_mode": "signed",
            "amount": "交易金额",
            "balance": "本次余额",
            "payer_name": "对手信息",
            "memo": ["交易摘要", "交易附言"],
            "reference": "日志号",
        },
    },
    "ccb_corporate": {
        "label": gettext_lazy("建设银行 · 企业网银账户明细"),
        "map": {
            "date": "交易时间",
            "amount_mode": "split",
            "money_in": "贷方发生额(收入)",
            "money_out": "借方发生额(支取)",
            "balance": "余额",
            "payer_name": "对方户名",
            "payer_account": "对方账号",
            "memo": ["摘要", "备注"],
            "reference": "账户明细编号-交易流水号",
        },
    },
    "bocom_personal": {
        # 借/贷 is written from the bank's side here: 贷 Cr is money INTO our account.
        "label": gettext_lazy("交通银行 · 借贷标志（银行视角）"),
        "map": {
            "date": "交易日期",
            "time": "交易时间",
            "amount_mode": "flagged",
            "amount": "交易金额",
            "direction": "借贷",
            "in_values": ["贷 Cr", "贷"],
            "out_values": ["借 Dr", "借"],
            "balance": "余额",
            "payer_name": "对方户名",
            "payer_account": "对方账号",
            "memo": ["交易类型", "摘要"],
        },
    },
    "bocom_credit": {
        # No sign and no direction column: the description starts with 消费 / 退货 / 还款.
        "label": gettext_lazy("交通银行 · 信用卡账单（摘要开头表示收支）"),
        "map": {
            "date": "交易日期",
            "amount_mode": "described",
            "amount": "入账币种/金额",
            "description": "交易说明",
            "memo": ["交易说明"],
        },
    },
    "cgb_credit": {
        "label": gettext_lazy("广发银行 · 信用卡账单"),
        "map": {
            "date": "交易日期",
            "amount_mode": "signed",
            "amount": "入账金额",
            "negate": True,
            "memo": ["交易摘要"],
            "currency": "入账货币",
        },
    },
    "citic_credit": {
        "label": gettext_lazy("中信银行 · 信用卡账单"),
        "map": {
            "date": "交易日期",
            "amount_mode": "signed",
            "amount": "结算金额",
            "negate": True,
            "memo": ["交易描述"],
            "currency": "结算币种",
        },
    },
    "wechat": {
        "label": gettext_lazy("微信支付 · 账单明细"),
        "map": {
            "date": "交易时间",
            "amount_mode": "flagged",
            "amount": "金额(元)",
            "direction": "收/支",
            "in_values": ["收入"],
            "out_values": ["支出"],
            "payer_name": "交易对方",
            "memo": ["交易类型", "商品", "备注"],
            "reference": "交易单号",
        },
    },
    "alipay": {
        "label": gettext_lazy("支付宝 · 交易明细（2023 年起）"),
        "map": {
            "date": "交易时间",
            "amount_mode": "flagged",
            "amount": "金额",
            "direction": "收/支",
            "in_values": ["收入"],
            "out_values": ["支出"],
            "payer_name": "交易对方",
            "payer_account": "对方账号",
            "memo": ["商品说明", "备注"],
            "reference": "交易订单号",
        },
    },
    "alipay_old": {
        "label": gettext_lazy("支付宝 · 交易记录（旧版）"),
        "map": {
            "date": "交易创建时间",
            "amount_mode": "flagged",
            "amount": "金额(元)",
            "direction": "收/支",
            "in_values": ["收入"],
            "out_values": ["支出"],
            "payer_name": "交易对方",
            "memo": ["商品名称", "备注"],
            "reference": "交易号",
        },
    },
}
PRESET_CHOICES = [(code, preset["label"]) for code, preset in PRESETS.items()] + [("custom", gettext_lazy("自定义（手工填写列映射）"))]

AMOUNT_MODES = ("split", "signed", "flagged", "described")
FIELD_LABELS = {
    "date": gettext_lazy("交易日期"),
    "time": gettext_lazy("交易时间"),
    "money_in": gettext_lazy("收入金额"),
    "money_out": gettext_lazy("支出金额"),
    "amount": gettext_lazy("交易金额"),
    "direction": gettext_lazy("收支/借贷标志"),
    "description": gettext_lazy("含收支词的摘要"),
    "balance": gettext_lazy("余额"),
    "payer_name": gettext_lazy("对方户名"),
    "payer_account": gettext_lazy("对方账号"),
    "memo": gettext_lazy("摘要"),
    "reference": gettext_lazy("流水号"),
    "currency": gettext_lazy("币种"),
}
HEADER_SCAN_ROWS = 60
SAMPLE_ROWS = 8
# Direction words at the start of a description, from the account holder's side.
IN_WORDS = ("收入", "存入", "转入", "入账", "汇入", "退款", "退货", "还款", "信用卡还款", "返现", "贷")
OUT_WORDS = ("支出", "消费", "转出", "支取", "取现", "取款", "汇出", "扣款", "手续费", "年费", "借")
DOMESTIC = {"", "CNY", "RMB", "人民币", "人民币元", "156", "本币", "CNH"}


class StatementFileError(Exception):
    """The whole file cannot be read (encoding, format, header row). The message names the file."""


class UnknownLayout(StatementFileError):
    """No saved layout or preset matches the header row: the clerk maps the columns once."""

    def __init__(self, message: str, *, header_line: int, header: list[str], samples: list[list[str]], fingerprint: str, sheet: str) -> None:
        super().__init__(message)
        self.header_line, self.header, self.samples, self.fingerprint, self.sheet = header_line, header, samples, fingerprint, sheet


@dataclass
class ParsedRow:
    line: int
    booked_on: date
    booked_time: str
    amount: Decimal
    balance: Decimal | None
    balance_text: str
    reference: str
    payer_name: str
    payer_account: str
    memo: str


@dataclass
class ParseResult:
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"line", "column", "value", "message"}
    skipped: int = 0
    footer_lines: int = 0
    header_line: int = 0
    encoding: str = ""
    sheet: str = ""
    layout: str = ""
    fingerprint: str = ""


# --- Column maps --------------------------------------------------------------------------------


def normalise_header(value) -> str:
    """Full width → half width, no whitespace at all (`日 志 号` → `日志号`, `（收入）` → `(收入)`)."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    return re.sub(r"\s+", "", text)


def header_fingerprint(cells) -> str:
    """The identity of a layout: its normalised header cells in order (empty ones dropped)."""
    names = [normalise_header(cell) for cell in cells]
    return hashlib.sha256("|".join(name for name in names if name).encode()).hexdigest()[:32]


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def mapped_headers(column_map: dict) -> dict[str, list[str]]:
    """field → the header(s) it reads, as written in the map."""
    mode = column_map.get("amount_mode", "split")
    keys = ["date", "time", "balance", "payer_name", "payer_account", "memo", "reference", "currency"]
    keys += {"split": ["money_in", "money_out"], "signed": ["amount"], "flagged": ["amount", "direction"], "described": ["amount", "description"]}.get(mode, [])
    return {key: _as_list(column_map.get(key)) for key in keys if column_map.get(key)}


def validate_column_map(column_map: dict) -> None:
    """Raise ValidationError (on `column_map`) naming what is missing or inconsistent."""
    problems: list[str] = []
    if not isinstance(column_map, dict) or not column_map:
        raise ValidationError({"column_map": _("列映射不能为空：请选择银行格式预设或手工填写。")})
    mode = column_map.get("amount_mode", "split")
    if mode not in AMOUNT_MODES:
        problems.append(_("amount_mode 必须是 split、signed、flagged 或 described"))
    required = ["date"] + {
        "split": ["money_in"], "signed": ["amount"], "flagged": ["amount", "direction", "in_values", "out_values"], "described": ["amount", "description"]
    }.get(mode, [])  # fmt: skip
    for key in required:
        if not column_map.get(key):
            problems.append(_("缺少 %(key)s（%(label)s）") % {"key": key, "label": FIELD_LABELS.get(key, key)})
    if mode == "flagged":
        both = {normalise_header(v).casefold() for v in _as_list(column_map.get("in_values"))} & {
            normalise_header(v).casefold() for v in _as_list(column_map.get("out_values"))
        }
        if both:
            problems.append(_("「%(values)s」不能同时表示收入和支出") % {"values": "、".join(sorted(both))})
    if problems:
        raise ValidationError({"column_map": "；".join(problems)})


# --- Cell values --------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"^[-—_/]+$")
_CURRENCY = re.compile(r"(CNY|RMB|CNH|人民币|元|¥|￥|\(CN\))", re.IGNORECASE)
_FOREIGN = re.compile(r"^([A-Z]{3})(?=[\s\d+\-.(])|(?<=[\d.\s])([A-Z]{3})$")
_TOTALS = re.compile(r"(合计|总计|小计|汇总|累计|本页|共\s*\d+\s*笔)")
_MASKED = re.compile(r"[xX*＊]")


class ForeignCurrency(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def clean_text(value) -> str:
    """Strip padding (spaces, TABs, full-width spaces) and empty placeholders (`-`, `------`)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).replace("\u3000", " ").strip()
    text = re.sub(r"\s+", " ", text)
    return "" if _PLACEHOLDER.match(text) else text


def parse_amount(value) -> Decimal | None:
    """Text or number → Decimal to the cent; None when empty. Raises ForeignCurrency for `USD 3.72`
    and ValueError on anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return Decimal(repr(value)).quantize(Decimal("0.01"))
    text = unicodedata.normalize("NFKC", clean_text(value)).upper()
    if not text:
        return None
    foreign = _FOREIGN.search(text.strip())
    if foreign and (foreign.group(1) or foreign.group(2)) not in ("CNY", "RMB", "CNH"):
        raise ForeignCurrency(foreign.group(1) or foreign.group(2))
    text = _CURRENCY.sub("", text)
    text = re.sub(r"[\s,]", "", text)
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
        raise ValueError(value)
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(value) from exc
    return (-number if negative else number).quantize(Decimal("0.01"))


def parse_balance(value) -> tuple[Decimal | None, str]:
    """(number or None, text as shown). Masked balances like `xx,yyyy.zz` stay text only."""
    text = clean_text(value)
    if not text or _MASKED.search(text):
        return None, text
    try:
        return parse_amount(value), text
    except ValueError:
        return None, text


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})(?:\D|$)"),
)
_NO_YEAR = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})日?$")
_PERIOD = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月")


def parse_date(value, period: tuple[int, int] | None = None) -> date:
    """A date in any of the banks' spellings. `MM/DD` takes its year from the statement period
    (a December line on a January statement is last year's)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and 20000 < value < 80000:  # an Excel serial day number
        return date(1899, 12, 30) + timedelta(days=int(value))
    text = unicodedata.normalize("NFKC", clean_text(value))
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
    match = _NO_YEAR.match(text)
    if match and period:
        month, day = int(match.group(1)), int(match.group(2))
        return date(period[0] if month <= period[1] else period[0] - 1, month, day)
    raise ValueError(value)


def _time_of(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%H:%M:%S")
    text = clean_text(value)
    if re.fullmatch(r"\d{6}", text):
        return f"{text[:2]}:{text[2:4]}:{text[4:]}"
    return text[:20]


_TRAILING_ACCOUNT = re.compile(r"^(.*?\D)\s*(\d{8,})$")
_HEADER_WORDS = re.compile(r"(日期|时间|日$|金额|余额|摘要|说明|描述|收入|支出|存入|借|贷|对方|户名|账号|帐号|卡号|流水|用途|附言|备注|币|收/支|交易)")


# --- Reading the file ---------------------------------------------------------------------------


def _sheets(data: bytes, filename: str) -> tuple[list[tuple[str, list[list]]], str]:
    """[(sheet name, rows)], encoding or format. Identified by content, not by the file name."""
    try:
        table = read_table_file(data, filename)
        return [(sheet.name, [list(row) for row in sheet.rows]) for sheet in table.sheets], table.encoding
    except TableFileError as exc:
        raise StatementFileError(str(exc)) from exc


def _cells(row: list) -> set[str]:
    return {normalise_header(cell) for cell in row if cell not in (None, "")}


def _match_layout(rows: list[list], column_map: dict) -> int | None:
    wanted = {normalise_header(name) for names in mapped_headers(column_map).values() for name in names}
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if wanted <= _cells(row):
            return index
    return None


REQUIRED_KEYS = ("date", "money_in", "money_out", "amount", "direction", "description")


def _fit_preset(rows: list[list], column_map: dict) -> tuple[int, int, dict] | None:
    """(header index, headers present, the map without its absent optional columns) for the row
    holding every required header of a preset; None when no row does. A preset's optional
    columns (balance, payer, memo …) may be missing from a variant of the export."""
    headers = mapped_headers(column_map)
    required = {normalise_header(name) for key in REQUIRED_KEYS for name in headers.get(key, [])}
    best = None
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        cells = _cells(row)
        if not required <= cells:
            continue
        fitted = dict(column_map)
        present = 0
        for key, names in headers.items():
            kept = [name for name in names if normalise_header(name) in cells]
            present += len(kept)
            if key in REQUIRED_KEYS:
                continue
            if not kept:
                fitted.pop(key, None)
            elif key == "memo":
                fitted[key] = kept
        if best is None or present > best[1]:
            best = (index, present, fitted)
    return best


def _guess_header(rows: list[list]) -> int | None:
    """The row that reads most like a statement header (for the mapping form)."""
    best, best_score = None, 1
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        cells = [normalise_header(cell) for cell in row if clean_text(cell)]
        if len(cells) < 3 or any(len(cell) > 30 for cell in cells):
            continue
        score = sum(1 for cell in cells if _HEADER_WORDS.search(cell))
        if score > best_score:
            best, best_score = index, score
    return best


def _period(rows: list[list], header_index: int) -> tuple[int, int] | None:
    for row in rows[: header_index + 1]:
        for cell in row:
            match = _PERIOD.search(str(cell or ""))
            if match and 1 <= int(match.group(2)) <= 12:
                return int(match.group(1)), int(match.group(2))
    return None


def detect_layout(
    sheets: list[tuple[str, list[list]]], column_map: dict | None, known_layouts: dict[str, dict] | None
) -> tuple[str, list[list], int, dict, str]:
    """(sheet, rows, header index, column map, layout name) — or UnknownLayout (filename added by
    the caller). Order: the account's map, a layout saved for this header, the most specific preset."""
    candidates: list[tuple[str, dict]] = []
    if column_map:
        candidates.append(("account", column_map))
    for sheet_name, rows in sheets:
        for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            saved = (known_layouts or {}).get(header_fingerprint(row))
            if saved and column_map != saved:
                candidates.append(("saved", saved))
                break
    for name, candidate in candidates:
        for sheet_name, rows in sheets:
            index = _match_layout(rows, candidate)
            if index is not None:
                return sheet_name, rows, index, candidate, name
    best = None  # (headers present, −headers absent, …): the most specific preset wins
    for code, preset in PRESETS.items():
        total = sum(len(names) for names in mapped_headers(preset["map"]).values())
        for sheet_name, rows in sheets:
            fit = _fit_preset(rows, preset["map"])
            if fit and (best is None or (fit[1], fit[1] - total) > best[0]):
                best = ((fit[1], fit[1] - total), sheet_name, rows, fit[0], fit[2], code)
    if best:
        return best[1:]
    for sheet_name, rows in sheets:
        index = _guess_header(rows)
        if index is not None:
            header = [clean_text(cell) for cell in rows[index]]
            samples = [[clean_text(cell) for cell in row] for row in rows[index + 1 :] if any(clean_text(cell) for cell in row)][:SAMPLE_ROWS]
            raise UnknownLayout("", header_line=index + 1, header=header, samples=samples, fingerprint=header_fingerprint(rows[index]), sheet=sheet_name)
    raise UnknownLayout("", header_line=0, header=[], samples=[], fingerprint="", sheet="")


def parse_statement(
    data: bytes, filename: str, column_map: dict | None = None, account_name: str = "", known_layouts: dict[str, dict] | None = None
) -> ParseResult:
    """Every data row parsed or reported as a line error; preamble, blank, totals and footer rows
    skipped. `known_layouts` maps a header fingerprint to a saved column map."""
    if column_map:
        try:
            validate_column_map(column_map)
        except ValidationError as exc:
            raise StatementFileError(
                _("账户「%(account)s」的列映射无效：%(error)s") % {"account": account_name, "error": "；".join(exc.messages)}
            ) from exc
    sheets, encoding = _sheets(data, filename)
    try:
        sheet_name, rows, index, layout, name = detect_layout(sheets, column_map, known_layouts)
    except UnknownLayout as unknown:
        if not unknown.header:
            raise StatementFileError(
                _("文件「%(name)s」里找不到表头行（前 %(rows)d 行没有“交易日期”“金额”等列名）。请确认这是银行或支付平台导出的明细文件。")
                % {"name": filename, "rows": HEADER_SCAN_ROWS}
            ) from None
        unknown.args = (
            _("文件「%(name)s」的格式未识别（第 %(line)d 行的表头：%(header)s）。请在“设置列映射”中选择日期、金额等列，保存后同一格式的文件会自动导入。")
            % {"name": filename, "line": unknown.header_line, "header": "、".join(cell for cell in unknown.header if cell)[:200]},
        )
        raise
    result = _parse_rows(rows, index, layout)
    result.encoding, result.sheet = encoding, sheet_name
    result.layout = name if name not in ("account", "saved") else (layout.get("name") or name)
    result.fingerprint = header_fingerprint(rows[index])
    return result


# --- Rows -------------------------------------------------------------------------------------


@dataclass
class _Columns:
    """Where each mapped field sits in the header row, and how to read a row with it."""

    headers: dict[str, list[str]]
    positions: dict[str, list[int]]

    def cell(self, row: list, key: str, which: int = 0):
        cols = self.positions.get(key)
        if not cols or which >= len(cols) or cols[which] >= len(row):
            return None
        return row[cols[which]]

    def first(self, row: list, key: str):
        for which in range(len(self.positions.get(key, []))):
            value = self.cell(row, key, which)
            if clean_text(value):
                return value
        return self.cell(row, key)

    def label(self, key: str) -> str:
        return self.headers[key][0] if key in self.headers else str(FIELD_LABELS.get(key, key))


def _columns(header_row: list, column_map: dict) -> _Columns:
    header = [normalise_header(cell) for cell in header_row]
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        if name and name not in position:
            position[name] = i
    headers = mapped_headers(column_map)
    return _Columns(headers, {key: [position[normalise_header(name)] for name in names] for key, names in headers.items()})


def _last_data_index(rows: list[list], header_index: int, columns: _Columns, period) -> int:
    """Rows after the last row with a date in the date column are the footer."""
    for index in range(len(rows) - 1, header_index, -1):
        try:
            parse_date(columns.first(rows[index], "date"), period)
            return index
        except (ValueError, TypeError):
            continue
    return header_index


def _looks_like_transaction(row: list, columns: _Columns) -> bool:
    """A row after the last dated one that still has amounts is a broken row, not a footer."""
    amount_keys = [key for key in ("amount", "money_in", "money_out") if key in columns.positions]
    filled = sum(1 for cols in columns.positions.values() for col in cols if col < len(row) and clean_text(row[col]))
    has_amount = False
    for key in amount_keys:
        try:
            has_amount = has_amount or parse_amount(columns.cell(row, key)) is not None
        except ValueError:
            pass
    return has_amount and filled >= max(3, len(columns.positions) // 2)


class _RowReader:
    """Turns one data row into a ParsedRow or line errors, by the layout's direction convention."""

    def __init__(self, columns: _Columns, column_map: dict, result: ParseResult, period) -> None:
        self.columns, self.result, self.period = columns, result, period
        self.mode = column_map.get("amount_mode", "split")
        self.in_values = {normalise_header(v).casefold() for v in _as_list(column_map.get("in_values"))}
        self.out_values = {normalise_header(v).casefold() for v in _as_list(column_map.get("out_values"))}
        self.negate = bool(column_map.get("negate"))

    def error(self, line: int, key: str, value, message: str) -> None:
        self.result.errors.append({"line": line, "column": self.columns.label(key), "value": clean_text(value)[:80], "message": message})

    def money(self, line: int, row: list, key: str) -> tuple[Decimal | None, bool]:
        raw = self.columns.cell(row, key)
        try:
            return parse_amount(raw), True
        except ForeignCurrency as exc:
            self.error(line, key, raw, _("外币交易（%(code)s）不能按人民币导入，请在网银中只导出人民币明细或手工登记") % {"code": exc.code})
        except ValueError:
            self.error(line, key, raw, _("无法识别的金额，请检查该行是否被改动过"))
        return None, False

    def amount(self, line: int, row: list) -> Decimal | None:
        if self.mode == "split":
            money_in, ok_in = self.money(line, row, "money_in")
            money_out, ok_out = self.money(line, row, "money_out") if "money_out" in self.columns.positions else (None, True)
            if not (ok_in and ok_out):
                return None
            if money_in is None and money_out is None:
                self.error(line, "money_in", "", _("收入和支出金额都为空"))
                return None
            # Never abs(): a negative credit is a reversal, i.e. money out.
            return (money_in or Decimal("0")) - (money_out or Decimal("0"))
        amount, ok = self.money(line, row, "amount")
        if not ok:
            return None
        if amount is None:
            self.error(line, "amount", "", _("金额为空"))
            return None
        if self.mode == "signed":
            return -amount if self.negate else amount
        if self.mode == "flagged":
            raw = self.columns.cell(row, "direction")
            sign = self._sign_from_values(normalise_header(raw).casefold())
            if sign is None:
                expected = "、".join(sorted(self.in_values | self.out_values))
                self.error(line, "direction", raw, _("既不是收入也不是支出（可识别的值：%(values)s），该行未导入；如确属回款请手工登记") % {"values": expected})
                return None
        else:
            raw = self.columns.cell(row, "description")
            sign = _sign_from_description(clean_text(raw))
            if sign is None:
                self.error(line, "description", raw, _("摘要开头没有收支字样（如“消费”“退款”“还款”），无法判断方向"))
                return None
        if amount < 0:
            self.error(line, "amount", self.columns.cell(row, "amount"), _("金额为负数，与收支标志矛盾，请核对原始流水"))
            return None
        return amount if sign > 0 else -amount

    def _sign_from_values(self, flag: str) -> int | None:
        if flag and flag in self.in_values:
            return 1
        if flag and flag in self.out_values:
            return -1
        return None

    def currency_ok(self, line: int, row: list) -> bool:
        if "currency" not in self.columns.positions:
            return True
        raw = self.columns.cell(row, "currency")
        code = normalise_header(raw).upper()
        if code in DOMESTIC or code.startswith("人民币"):
            return True
        self.error(line, "currency", raw, _("外币交易不能按人民币导入，请在网银中只导出人民币明细或手工登记"))
        return False

    def read(self, index: int, row: list) -> ParsedRow | None:
        line, columns, errors_before = index + 1, self.columns, len(self.result.errors)
        raw_date = columns.first(row, "date")
        booked_on = None
        if not clean_text(raw_date):
            self.error(line, "date", raw_date, _("日期为空"))
        else:
            try:
                booked_on = parse_date(raw_date, self.period)
            except (ValueError, TypeError):
                self.error(line, "date", raw_date, _("无法识别的日期（应为 2026-01-31 这样的格式）"))
        amount = self.amount(line, row) if self.currency_ok(line, row) else None
        if len(self.result.errors) > errors_before or booked_on is None or amount is None:
            return None
        balance, balance_text = parse_balance(columns.cell(row, "balance"))
        payer_name = clean_text(columns.cell(row, "payer_name"))
        payer_account = clean_text(columns.cell(row, "payer_account"))
        if not payer_account:
            split = _TRAILING_ACCOUNT.match(payer_name)  # CMB joins them: `张三 66666666666666`
            if split:
                payer_name, payer_account = split.group(1).strip(), split.group(2)
        memo_parts = []
        for i in range(len(columns.positions.get("memo", []))):
            part = clean_text(columns.cell(row, "memo", i))
            if part and part not in memo_parts:
                memo_parts.append(part)
        return ParsedRow(
            line=line,
            booked_on=booked_on,
            booked_time=_time_of(columns.cell(row, "time")) if "time" in columns.positions else "",
            amount=amount,
            balance=balance,
            balance_text=balance_text[:40],
            reference=clean_text(columns.cell(row, "reference"))[:80],
            payer_name=payer_name[:200],
            payer_account=payer_account[:80],
            memo=" / ".join(memo_parts)[:500],
        )


def _sign_from_description(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text).lstrip("(（[【 ")
    for word in sorted(IN_WORDS + OUT_WORDS, key=len, reverse=True):
        if text.startswith(word):
            return 1 if word in IN_WORDS else -1
    return None


def _parse_rows(rows: list[list], header_index: int, column_map: dict) -> ParseResult:
    columns = _columns(rows[header_index], column_map)
    result = ParseResult(header_line=header_index + 1)
    period = _period(rows, header_index)
    reader = _RowReader(columns, column_map, result, period)
    last = _last_data_index(rows, header_index, columns, period)
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        mapped_cells = [row[col] for cols in columns.positions.values() for col in cols if col < len(row)]
        if not any(clean_text(value) for value in mapped_cells):
            result.skipped += 1  # blank line, or a line with a single space (ICBC)
            continue
        if index > last and not _looks_like_transaction(row, columns):
            result.footer_lines += 1
            result.skipped += 1  # any footer wording: totals, notes, 以上数据仅供参考…
            continue
        date_text = clean_text(columns.first(row, "date"))
        if _TOTALS.search(date_text) or (not date_text and any(_TOTALS.search(clean_text(value)) for value in row)):
            result.skipped += 1  # a totals row inside the data: 本页合计, 共 12 笔 …
            continue
        parsed = reader.read(index, row)
        if parsed is not None:
            result.rows.append(parsed)
    if "balance" in columns.positions:
        check_running_balance(result, columns.label("balance"))
    return result


def check_running_balance(result: ParseResult, column: str) -> None:
    """Each balance must follow from its neighbour and the amount. Exports run oldest-first or
    newest-first; the direction most pairs agree with is the file's. A break is a line error."""
    rows = [row for row in result.rows if row.balance is not None]
    if len(rows) < 2:
        return
    pairs = list(zip(rows, rows[1:]))
    forward = sum(1 for a, b in pairs if a.balance + b.amount == b.balance)
    backward = sum(1 for a, b in pairs if b.balance + a.amount == a.balance)
    if not forward and not backward:
        # Not a running balance at all (e.g. an available-credit column): nothing to check against.
        return
    bad_lines: set[int] = set()
    for a, b in pairs:
        if forward >= backward and a.balance + b.amount != b.balance:
            bad = b
            expected = a.balance + b.amount
        elif forward < backward and b.balance + a.amount != a.balance:
            bad = a
            expected = b.balance + a.amount
        else:
            continue
        bad_lines.add(bad.line)
        result.errors.append(
            {
                "line": bad.line,
                "column": column,
                "value": bad.balance_text,
                "message": _("余额不连续：按上一笔余额和本笔金额应为 %(expected)s，文件中为 %(found)s。文件可能被改动或缺行，请重新导出完整明细")
                % {"expected": expected, "found": bad.balance},
            }
        )
    if bad_lines:
        result.rows = [row for row in result.rows if row.line not in bad_lines]
    result.errors.sort(key=lambda error: error["line"])
