"""F5/R4: Excel and CSV as customers keep them — the sheet with the header is picked, merged
cells filled down, CSV in GBK, formulas read with cached values (a clear error when none), no
row cap, zip bombs and broken XML refused by name. Reader level (salesops.imports.read_rows)."""

import io
import zipfile

import pytest
from openpyxl import Workbook

from salesops.imports import ImportFileError, inspect_upload, read_rows

from .xlsx import CUSTOMER_HEADERS

ROW = ["浙江省人民医院 骨科", "浙江省人民医院", "骨科", "张主任", "主任", "13800138000", "alice"]


def workbook_bytes(build) -> bytes:
    workbook = Workbook()
    build(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rows_of(data: bytes, name="客户.xlsx"):
    return list(read_rows("customers", io.BytesIO(data), name))


def test_a_notes_sheet_first_and_merged_hospital_cells():
    """F5: 说明 comes first; the data sheet is proposed because it has the header. The hospital
    column is merged over three rows: every row gets the value, no 必填 errors."""
    def build(workbook):
        workbook.active.title = "说明"
        workbook.active.append(["请按模板填写"])
        sheet = workbook.create_sheet("客户")
        sheet.append(CUSTOMER_HEADERS)
        for i in range(3):
            sheet.append([f"客户{i}", "浙江省人民医院" if i == 0 else None, "骨科", "", "", "", "alice"])
        sheet.merge_cells("B2:B4")

    rows = rows_of(workbook_bytes(build))
    assert [(line, values["name"], values["hospital"]) for line, values in rows] == [
        (2, "客户0", "浙江省人民医院"), (3, "客户1", "浙江省人民医院"), (4, "客户2", "浙江省人民医院")
    ]
    assert inspect_upload("customers", io.BytesIO(workbook_bytes(build)), "客户.xlsx").header_line == 1


def test_a_gbk_csv_reads_like_the_workbook():
    data = ("\r\n".join([",".join(CUSTOMER_HEADERS), ",".join(ROW)]) + "\r\n").encode("gbk")
    assert rows_of(data, "客户.csv") == [(2, dict(zip(["name", "hospital", "department", "contact", "title", "phone", "owner"], ROW)))]


def test_formulas_without_saved_values_are_a_clear_error_naming_the_cells():
    """F5: a script-written workbook has formulas but no cached values: say so, never blanks."""
    def build(workbook):
        sheet = workbook.active
        sheet.append(CUSTOMER_HEADERS)
        sheet.append(["=B2&\" 骨科\"", "浙江省人民医院", "骨科", "", "", "", "alice"])

    with pytest.raises(ImportFileError) as refused:
        rows_of(workbook_bytes(build))
    assert "A2" in str(refused.value) and "公式没有保存计算结果" in str(refused.value) and "粘贴为数值" in str(refused.value)


def test_no_row_cap():
    """F5: 25,000 rows (the old cap was 20,000) are all read."""
    data = "\n".join([",".join(CUSTOMER_HEADERS)] + [",".join([f"客户{i}", *ROW[1:]]) for i in range(25_000)]).encode()
    assert sum(1 for _ in read_rows("customers", io.BytesIO(data), "大.csv")) == 25_000


def test_a_shared_strings_bomb_is_refused_before_it_is_expanded():
    """R4: sharedStrings that expand to 50 MB from a few KB: refused by the ratio cap, naming the file."""
    base = workbook_bytes(lambda workbook: workbook.active.append(CUSTOMER_HEADERS))
    source = zipfile.ZipFile(io.BytesIO(base))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("xl/sharedStrings.xml", b"<sst>" + b"<si><t>A</t></si>" * 3_000_000 + b"</sst>")
    with pytest.raises(ImportFileError) as refused:
        rows_of(buffer.getvalue(), "炸弹.xlsx")
    assert "炸弹.xlsx" in str(refused.value) and "压缩比异常" in str(refused.value)


def test_broken_sheet_xml_is_a_refusal_not_a_500():
    """R4: a sheet whose XML is cut off mid-tag is refused with the file's name and what to do."""
    base = workbook_bytes(lambda workbook: (workbook.active.append(CUSTOMER_HEADERS), workbook.active.append(ROW)))
    source = zipfile.ZipFile(io.BytesIO(base))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: len(data) // 2] if item.filename == "xl/worksheets/sheet1.xml" else data)
    with pytest.raises(ImportFileError) as refused:
        rows_of(buffer.getvalue(), "坏表.xlsx")
    assert "坏表.xlsx" in str(refused.value) and "另存为" in str(refused.value)
