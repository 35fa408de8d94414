"""Build real .xlsx files for import tests and benchmarks (openpyxl, in memory)."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

CUSTOMER_HEADERS = ["客户名称", "医院", "科室", "联系人", "职务", "电话", "负责人"]
HOSPITAL_HEADERS = ["医院名称", "等级", "城市", "地址", "纬度", "经度", "坐标系"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_bytes(headers: list, rows: list[list], *, title_rows: list[list] | None = None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in title_rows or []:
        sheet.append(row)
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_upload(headers: list, rows: list[list], name: str = "客户.xlsx", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, xlsx_bytes(headers, rows, **kwargs), content_type=XLSX_TYPE)
