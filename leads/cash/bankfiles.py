"""Reading Chinese bank-statement exports (C3): CSV (UTF-8 or GBK), XLSX and old BIFF .xls.

Nothing here is guessed: every account has a column map (from a preset below, editable in admin)
naming the header of each field. The header row is the first row holding *all* mapped headers;
if no row does, the file is refused with an error naming the file and the missing columns.

Real exports are messy, and this module is where that mess stops:
- preamble rows (title, 户名, 卡号, period) before the header and totals rows (合计) after the data;
- cells padded with spaces and TABs (ICBC), placeholders `-` / `----------` for empty (BOC);
- amounts as text, with thousands separators, `+`, `¥`, `CNY 123.18`, a `(CN)` suffix;
- masked balances (`xx,yyyy.zz`) — kept as text, never a number;
- dates as `2024-01-02`, `2024/01/02`, `20240102`, `2024年1月2日`, with or without a time,
  or as Excel date cells.

`parse_statement(data, filename, column_map)` returns every data row or a line-level error for it;
the import service (`leads.cash.statements`) decides what to write. Pure functions, no database.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# --- Presets -----------------------------------------------------------------------------------
# Field keys: date, time, amount_mode (split | signed | flagged), money_in / money_out (split),
# amount (+ direction, in_values, out_values for flagged; negate for signed exports where a
# positive number is money out), balance, payer_name, payer_account, memo (list), reference.
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
}
PRESET_CHOICES = [(code, preset["label"]) for code, preset in PRESETS.items()] + [("custom", gettext_lazy("自定义（手工填写列映射）"))]

AMOUNT_MODES = ("split", "signed", "flagged")
FIELD_LABELS = {
    "date": gettext_lazy("交易日期"),
    "time": gettext_lazy("交易时间"),
    "money_in": gettext_lazy("收入金额"),
    "money_out": gettext_lazy("支出金额"),
    "amount": gettext_lazy("交易金额"),
    "direction": gettext_lazy("借贷标志"),
    "balance": gettext_lazy("余额"),
    "payer_name": gettext_lazy("对方户名"),
    "payer_account": gettext_lazy("对方账号"),
    "memo": gettext_lazy("摘要"),
    "reference": gettext_lazy("流水号"),
}
HEADER_SCAN_ROWS = 60


class StatementFileError(Exception):
    """The whole file cannot be read (encoding, format, header row). The message names the file."""


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
    header_line: int = 0
    encoding: str = ""
    sheet: str = ""


# --- Column maps --------------------------------------------------------------------------------


def normalise_header(value) -> str:
    """Full width → half width, no whitespace at all (`日 志 号` → `日志号`, `（收入）` → `(收入)`)."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    return re.sub(r"\s+", "", text)


def _as_list(value) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [str(item) for item in value]


def mapped_headers(column_map: dict) -> dict[str, list[str]]:
    """field → the header(s) it reads, as written in the map."""
    mode = column_map.get("amount_mode", "split")
    keys = ["date", "time", "balance", "payer_name", "payer_account", "memo", "reference"]
    keys += {"split": ["money_in", "money_out"], "signed": ["amount"], "flagged": ["amount", "direction"]}.get(mode, [])
    return {key: _as_list(column_map.get(key)) for key in keys if column_map.get(key)}


def validate_column_map(column_map: dict) -> None:
    """Raise ValidationError (on `column_map`) naming what is missing or inconsistent."""
    problems: list[str] = []
    if not isinstance(column_map, dict) or not column_map:
        raise ValidationError({"column_map": _("列映射不能为空：请选择银行格式预设或手工填写。")})
    mode = column_map.get("amount_mode", "split")
    if mode not in AMOUNT_MODES:
        problems.append(_("amount_mode 必须是 split、signed 或 flagged"))
    required = ["date"] + {"split": ["money_in"], "signed": ["amount"], "flagged": ["amount", "direction", "in_values"]}.get(mode, [])
    for key in required:
        if not column_map.get(key):
            problems.append(_("缺少 %(key)s（%(label)s）") % {"key": key, "label": FIELD_LABELS.get(key, key)})
    if problems:
        raise ValidationError({"column_map": "；".join(problems)})


# --- Cell values --------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"^[-—_/]+$")
_CURRENCY = re.compile(r"(CNY|RMB|人民币|元|¥|￥|\(CN\))", re.IGNORECASE)
_TOTALS = re.compile(r"(合计|总计|小计|汇总|累计|本页|共\s*\d+\s*笔)")
_MASKED = re.compile(r"[xX*＊]")


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
    """Text or number → Decimal to the cent; None when empty. Raises ValueError on anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return Decimal(repr(value)).quantize(Decimal("0.01"))
    text = unicodedata.normalize("NFKC", clean_text(value))
    if not text:
        return None
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


def parse_date(value) -> date:
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
    raise ValueError(value)


def _time_of(value) -> str:
    if isinstance(value, datetime):
        return value.strftime("%H:%M:%S")
    text = clean_text(value)
    if re.fullmatch(r"\d{6}", text):
        return f"{text[:2]}:{text[2:4]}:{text[4:]}"
    return text[:20]


_TRAILING_ACCOUNT = re.compile(r"^(.*?\D)\s*(\d{8,})$")


# --- Reading the file ---------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), ("utf-8" if encoding == "utf-8-sig" else "gbk")
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("gb18030", data, 0, 1, "neither UTF-8 nor GB18030")


def _sheets(data: bytes, filename: str) -> tuple[list[tuple[str, list[list]]], str]:
    """[(sheet name, rows)], encoding. Identified by content, not by the file name."""
    if data[:4] == b"PK\x03\x04":
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is one file error
            raise StatementFileError(_("文件「%(name)s」不是有效的 XLSX 工作簿：%(error)s") % {"name": filename, "error": exc}) from exc
        sheets = [(sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)]) for sheet in workbook.worksheets]
        workbook.close()
        return sheets, "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        from python_calamine import CalamineWorkbook

        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            sheets = [(name, workbook.get_sheet_by_name(name).to_python()) for name in workbook.sheet_names]
        except Exception as exc:  # noqa: BLE001
            raise StatementFileError(_("文件「%(name)s」不是有效的 XLS 工作簿：%(error)s") % {"name": filename, "error": exc}) from exc
        return sheets, "xls"
    if b"\x00" in data[:4096]:
        raise StatementFileError(_("文件「%(name)s」既不是 CSV 文本也不是 Excel 工作簿。") % {"name": filename})
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError as exc:
        raise StatementFileError(_("文件「%(name)s」的编码无法识别（既不是 UTF-8 也不是 GBK）。") % {"name": filename}) from exc
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return [("", rows)], encoding


def _find_header(rows: list[list], wanted: set[str]) -> tuple[int | None, int, set[str]]:
    """(index of the first row holding every wanted header or None, best row index, its headers)."""
    best_index, best_found = 0, set()
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        present = {normalise_header(cell) for cell in row if cell not in (None, "")}
        found = wanted & present
        if found == wanted:
            return index, index, found
        if len(found) > len(best_found):
            best_index, best_found = index, found
    return None, best_index, best_found


def parse_statement(data: bytes, filename: str, column_map: dict, account_name: str = "") -> ParseResult:
    """Every data row parsed or reported as a line error; preamble, blank and totals rows skipped."""
    try:
        validate_column_map(column_map)
    except ValidationError as exc:
        raise StatementFileError(
            _("账户「%(account)s」的列映射无效：%(error)s") % {"account": account_name, "error": "；".join(exc.messages)}
        ) from exc
    headers = mapped_headers(column_map)
    wanted = {normalise_header(name) for names in headers.values() for name in names}
    sheets, encoding = _sheets(data, filename)
    best: tuple[int, str, int, set[str]] = (-1, "", 0, set())
    for sheet_name, rows in sheets:
        index, best_index, found = _find_header(rows, wanted)
        if index is not None:
            result = _parse_rows(rows, index, headers, column_map)
            result.encoding, result.sheet = encoding, sheet_name
            return result
        if len(found) > best[0]:
            best = (len(found), sheet_name, best_index, found)
    missing = [
        name for names in headers.values() for name in names if normalise_header(name) not in best[3]
    ]
    where = ""
    if best[3]:
        where = _("（最接近的是%(sheet)s第 %(line)d 行）") % {
            "sheet": _("工作表「%(name)s」") % {"name": best[1]} if best[1] else "",
            "line": best[2] + 1,
        }
    raise StatementFileError(
        _("文件「%(name)s」：按账户「%(account)s」的列映射找不到表头行，缺少列：%(missing)s%(where)s。请检查所选账户或在后台修改列映射。")
        % {"name": filename, "account": account_name, "missing": "、".join(missing), "where": where}
    )


def _parse_rows(rows: list[list], header_index: int, headers: dict[str, list[str]], column_map: dict) -> ParseResult:
    header = [normalise_header(cell) for cell in rows[header_index]]
    position = {name: header.index(name) for name in header if name}
    columns = {key: [position[normalise_header(name)] for name in names] for key, names in headers.items()}
    mode = column_map.get("amount_mode", "split")
    in_values = {normalise_header(value).casefold() for value in _as_list(column_map.get("in_values"))}
    out_values = {normalise_header(value).casefold() for value in _as_list(column_map.get("out_values"))}
    negate = bool(column_map.get("negate"))
    result = ParseResult(header_line=header_index + 1)

    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        line = index + 1

        def cell(key: str, which: int = 0):
            cols = columns.get(key)
            if not cols or cols[which] >= len(row):
                return None
            return row[cols[which]]

        def error(key: str, value, message: str) -> None:
            result.errors.append(
                {"line": line, "column": headers[key][0] if key in headers else key, "value": clean_text(value), "message": message}
            )

        mapped_cells = [row[col] for cols in columns.values() for col in cols if col < len(row)]
        if not any(clean_text(value) for value in mapped_cells):
            result.skipped += 1  # blank line, or a line with a single space (ICBC)
            continue
        raw_date = cell("date")
        date_text = clean_text(raw_date)
        if _TOTALS.search(date_text):
            result.skipped += 1  # totals row: 人民币合计, 共 12 笔 …
            continue
        if not date_text:
            if any(_TOTALS.search(clean_text(value)) for value in row):
                result.skipped += 1  # a footer whose label sits in another column
                continue
        errors_before = len(result.errors)

        def money(key: str) -> Decimal | None:
            raw = cell(key)
            try:
                return parse_amount(raw)
            except ValueError:
                error(key, raw, _("无法识别的金额"))
                return None

        booked_on = None
        if not date_text:
            error("date", raw_date, _("日期为空"))
        else:
            try:
                booked_on = parse_date(raw_date)
            except ValueError:
                error("date", raw_date, _("无法识别的日期"))

        amount = None
        if mode == "split":
            money_in = money("money_in")
            money_out = money("money_out") if "money_out" in columns else None
            if money_in is None and money_out is None and len(result.errors) == errors_before:
                error("money_in", "", _("收入和支出金额都为空"))
            elif len(result.errors) == errors_before:
                amount = abs(money_in or 0) - abs(money_out or 0)
        else:
            amount = money("amount")
            if amount is None and len(result.errors) == errors_before:
                error("amount", "", _("金额为空"))
            elif amount is not None and mode == "signed" and negate:
                amount = -amount
            elif amount is not None and mode == "flagged":
                flag = normalise_header(cell("direction")).casefold()
                if flag in in_values:
                    amount = abs(amount)
                elif flag in out_values:
                    amount = -abs(amount)
                else:
                    error("direction", cell("direction"), _("借贷标志不在列映射的收入/支出取值中"))
                    amount = None

        if len(result.errors) > errors_before or booked_on is None or amount is None:
            continue
        balance, balance_text = parse_balance(cell("balance"))
        payer_name = clean_text(cell("payer_name"))
        payer_account = clean_text(cell("payer_account"))
        if not payer_account:
            split = _TRAILING_ACCOUNT.match(payer_name)  # CMB joins them: `张三 66666666666666`
            if split:
                payer_name, payer_account = split.group(1).strip(), split.group(2)
        memo_parts = [clean_text(cell("memo", i)) for i in range(len(columns.get("memo", [])))]
        result.rows.append(
            ParsedRow(
                line=line,
                booked_on=booked_on,
                booked_time=_time_of(cell("time")) if "time" in columns else "",
                amount=amount,
                balance=balance,
                balance_text=balance_text[:40],
                reference=clean_text(cell("reference"))[:80],
                payer_name=payer_name[:200],
                payer_account=payer_account[:80],
                memo=" / ".join(part for part in memo_parts if part)[:500],
            )
        )
    return result
