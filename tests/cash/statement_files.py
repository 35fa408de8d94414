"""Corporate bank exports as Chinese banks write them, generated for tests and the benchmark:
a preamble (账号, 户名, period), the header, padded data lines, a totals line — CSV in GBK or
UTF-8, or XLSX. Columns follow the `generic` preset (交易日期 / 贷方金额 / 借方金额 / 对方户名 …)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

HEADER = ["交易日期", "交易时间", "借方金额", "贷方金额", "余额", "对方户名", "对方账号", "摘要", "附言", "流水号"]


@dataclass
class Line:
    booked_on: date
    credit: Decimal | None = None
    debit: Decimal | None = None
    balance: str = ""
    payer: str = ""
    account: str = ""
    memo: str = "货款"
    note: str = ""
    reference: str = ""
    time: str = "10:15:00"


def _cells(line: Line) -> list[str]:
    return [
        line.booked_on.strftime("%Y-%m-%d"),
        line.time,
        f"{line.debit:,.2f}" if line.debit else "",
        f"{line.credit:,.2f}" if line.credit else "",
        line.balance,
        line.payer,
        line.account,
        line.memo,
        line.note,
        line.reference,
    ]


def corporate_csv(lines: list[Line], *, encoding: str = "gbk", pad: bool = True, account: str = "1202026009200123456") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["中国工商银行 账户历史明细"])
    writer.writerow([f"账号：{account}", "户名：浙江安康医疗器械有限公司"])
    if lines:
        writer.writerow([f"起止日期：{min(l.booked_on for l in lines)} 至 {max(l.booked_on for l in lines)}"])
    writer.writerow([])
    writer.writerow(HEADER)
    for line in lines:
        cells = _cells(line)
        writer.writerow([f" {cell}\t" if pad and cell else cell for cell in cells])
    credit = sum((l.credit or 0 for l in lines), Decimal("0"))
    debit = sum((l.debit or 0 for l in lines), Decimal("0"))
    writer.writerow(["合计", "", f"{debit:,.2f}", f"{credit:,.2f}", "", "", "", "", "", ""])
    writer.writerow([f"共 {len(lines)} 笔"])
    return buffer.getvalue().encode(encoding)


def corporate_xlsx(lines: list[Line]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "账户明细"
    sheet.append(["中国工商银行 账户历史明细"])
    sheet.append(["户名：浙江安康医疗器械有限公司"])
    sheet.append([])
    sheet.append(HEADER)
    for line in lines:
        sheet.append(
            [line.booked_on, line.time, float(line.debit) if line.debit else None, float(line.credit) if line.credit else None,
             line.balance, line.payer, line.account, line.memo, line.note, line.reference]
        )
    sheet.append(["合计"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
