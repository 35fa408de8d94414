"""Excel import of customers and hospitals (A1): preview with per-row errors, nothing half-imported.

The flow:
  upload   `import_start` — the form has already checked that the file is an .xlsx with the
           columns we need (`inspect_upload`), so a wrong file is answered at once, naming it.
  parse    `import_parse` runs in a django-q2 task: streams the rows, checks them against the
           database in batches and stages each batch as `ImportRow`s, moving
           `ImportJob.processed_rows` so the page can show a progress bar.
  preview  the page lists every row with its errors: Excel line number, field, message.
  confirm  `import_confirm` hands the job to a task (`import_apply`), which checks the staged rows
           AGAIN against the database as it is now (it may have changed since the preview) and
           creates them batch by batch inside one transaction — or, when any row has an error,
           rolls everything back, writes nothing and says which rows.

Memory (F5): nothing holds the whole file's rows — the reader streams, rows are checked and
staged (or created) in batches of STAGE_BATCH; what grows with the file is one short key per row
for "duplicate within the file". Both tasks get their own timeout (IMPORT_TASK_TIMEOUT).

Errors are stored as codes with parameters and turned into text when shown, so the preview reads in
the viewer's language. Column headers are the company's Chinese headers; matching forgives
whitespace, full-width characters, a trailing "*" and a bracketed note such as "（必填）".
"""

from __future__ import annotations

import abc
import difflib
import io
import itertools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

import phonenumbers
from django.contrib.auth import get_user_model
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from simple_history.utils import bulk_create_with_history

from .access import role_of, sees_everything, users_visible_to
from .models import (
    ConsentBasis,
    ContactTitle,
    CoordinateSystem,
    Customer,
    Contact,
    Department,
    Hospital,
    HospitalGrade,
    ImportJob,
    ImportKind,
    ImportRow,
    ImportStatus,
    Role,
)

logger = logging.getLogger(__name__)
User = get_user_model()

MAX_FILE_BYTES = 10 * 1024 * 1024
HEADER_SCAN_ROWS = 20  # a title or a note may stand above the header row
BATCH_SIZE = 500
STAGE_BATCH = 2000  # rows checked, staged and created per batch (F5: bounded memory)


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not an .xlsx, columns missing, no rows …)."""


class ImportCancelled(Exception):
    """The job was cancelled while its file was being parsed."""


# --- Columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # as written in the company's sheets and in our template
    label: Promise  # the same name, translatable, for the page
    required: bool = False
    aliases: tuple[str, ...] = ()
    max_length: int | None = None
    help: Promise | str = ""


CUSTOMER_COLUMNS = (
    Column("name", "客户名称", _("客户名称"), True, ("客户", "客户名"), 160, _("通常为「医院 + 科室」")),
    Column("hospital", "医院", _("医院"), True, ("医院名称", "所属医院"), None, _("须与系统中的医院名称一致")),
    Column("department", "科室", _("科室"), False, ("部门", "科室名称"), 60, _("不存在时自动在该医院下新建")),
    Column("contact", "联系人", _("联系人"), False, ("联系人姓名",), 40),
    Column("title", "职务", _("职务"), False, ("职位", "联系人职务"), None, "、".join(ContactTitle.values)),
    Column("phone", "电话", _("电话"), False, ("联系电话", "手机", "手机号", "电话号码"), None, _("手机号或带区号的固话")),
    Column("owner", "负责人", _("负责人"), True, ("负责人账号", "负责销售", "销售账号"), None, _("负责销售的登录账号")),
)
HOSPITAL_COLUMNS = (
    Column("name", "医院名称", _("医院名称"), True, ("医院",), 120),
    Column("grade", "等级", _("等级"), True, ("医院等级",), None, _("三甲、二甲或民营")),
    Column("city", "城市", _("城市"), True, ("所在城市",), 40),
    Column("address", "地址", _("地址"), False, ("详细地址",), 200),
    Column("latitude", "纬度", _("纬度"), False, ("lat",), None, _("与经度同时填写，例如 30.274100")),
    Column("longitude", "经度", _("经度"), False, ("lon", "lng"), None, _("例如 120.155100")),
    Column("coordinate_system", "坐标系", _("坐标系"), False, (), None, _("WGS-84（默认）、GCJ-02 或 BD-09")),
)
COLUMNS = {ImportKind.CUSTOMERS: CUSTOMER_COLUMNS, ImportKind.HOSPITALS: HOSPITAL_COLUMNS}

# Row errors: a code, turned into text when shown (see `error_message`).
ERROR_MESSAGES: dict[str, Promise] = {
    "required": _("必填"),
    "too_long": _("不能超过 %(max)s 个字"),
    "unknown_hospital": _("系统中没有医院「%(value)s」"),
    "unknown_hospital_hint": _("系统中没有医院「%(value)s」，是否为「%(suggestion)s」？"),
    "bad_phone": _("「%(value)s」不是有效的电话：手机号为 1[3-9] 开头的 11 位，固话须带区号（如 0571-87654321）"),
    "unknown_owner": _("没有账号为「%(value)s」的销售"),
    "owner_out_of_scope": _("「%(value)s」不在你的团队，不能作为负责人"),
    "bad_title": _("未知职务「%(value)s」，可选：%(choices)s"),
    "contact_required": _("填写了职务，但没有填写联系人"),
    "duplicate_in_file": _("与第 %(line)s 行重复"),
    "customer_exists": _("该医院已有客户「%(value)s」"),
    "hospital_exists": _("系统中已有医院「%(value)s」"),
    "bad_grade": _("未知等级「%(value)s」，可选：三甲、二甲、民营"),
    "bad_number": _("「%(value)s」不是数字"),
    "latitude_range": _("纬度须在 %(min)s 到 %(max)s 之间（中国境内）"),
    "longitude_range": _("经度须在 %(min)s 到 %(max)s 之间（中国境内）"),
    "coordinates_swapped": _("纬度和经度可能填反了"),
    "coordinates_pair": _("纬度和经度须同时填写"),
    "bad_coordinate_system": _("未知坐标系「%(value)s」，可选：WGS-84、GCJ-02、BD-09"),
}

# Mainland China, loosely: catches typos and swapped columns without rejecting any real hospital.
LATITUDE_RANGE = (Decimal("3"), Decimal("54"))
LONGITUDE_RANGE = (Decimal("73"), Decimal("136"))

GRADE_WORDS = {
    "三甲": HospitalGrade.GRADE_3A, "三级甲等": HospitalGrade.GRADE_3A, "3a": HospitalGrade.GRADE_3A,
    "二甲": HospitalGrade.GRADE_2A, "二级甲等": HospitalGrade.GRADE_2A, "2a": HospitalGrade.GRADE_2A,
    "民营": HospitalGrade.PRIVATE, "民营医院": HospitalGrade.PRIVATE, "private": HospitalGrade.PRIVATE,
}  # fmt: skip
COORDINATE_WORDS = {
    "wgs84": CoordinateSystem.WGS84, "gps": CoordinateSystem.WGS84,
    "gcj02": CoordinateSystem.GCJ02, "火星坐标": CoordinateSystem.GCJ02, "高德": CoordinateSystem.GCJ02,
    "腾讯": CoordinateSystem.GCJ02, "bd09": CoordinateSystem.BD09, "百度": CoordinateSystem.BD09,
}  # fmt: skip
TITLE_WORDS = {**{title: title for title in ContactTitle.values}, "科主任": ContactTitle.DIRECTOR, "医师": ContactTitle.DOCTOR}


def error_message(error: dict) -> str:
    template = ERROR_MESSAGES.get(error.get("code", ""))
    if template is None:
        return error.get("code", "")
    return str(template) % error.get("params", {}) if error.get("params") else str(template)


# --- Text normalisation -------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_HEADER_NOTE = re.compile(r"\(.*?\)|\*")


def cell_text(value) -> str:
    """What a person typed, as text: Excel turns phone numbers into floats and trims nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
    elif isinstance(value, date):
        value = value.isoformat()
    return _SPACES.sub(" ", str(value).replace("\u3000", " ")).strip()


def match_key(text: str) -> str:
    """Comparison form: full-width → half-width, no whitespace, lower case."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


def header_key(text: str) -> str:
    return _HEADER_NOTE.sub("", match_key(text))


# --- Reading the file ---------------------------------------------------------------------------


@dataclass
class SheetInfo:
    header_line: int
    columns: dict[int, str]  # 0-based column index → column key
    estimated_rows: int
    ignored_headers: list[str] = field(default_factory=list)


def _open_table(fileobj: BinaryIO, name: str):
    """Any spreadsheet kind (.xlsx/.xls/.ods via python-calamine) or CSV/TSV (UTF-8 or GBK), with
    zip-bomb caps and broken XML refused by name (salesops.spreadsheets)."""
    from .spreadsheets import TableFileError, read_table_file

    data = fileobj.read()
    fileobj.seek(0)
    try:
        return read_table_file(data, name)
    except TableFileError as exc:
        raise ImportFileError(str(exc)) from exc


def _pick_sheet(kind: str, name: str, fileobj: BinaryIO):
    """(sheet, header line, mapping, ignored): the first sheet whose header is recognised (a 说明
    sheet before the data is skipped); the first sheet's refusal when none is."""
    first_error = None
    for sheet in _open_table(fileobj, name).sheets:
        head = []
        for row in sheet.rows:
            head.append(row)
            if len(head) >= HEADER_SCAN_ROWS:
                break
        try:
            line, mapping, ignored = _find_header(kind, head, name)
        except ImportFileError as exc:
            first_error = first_error or exc
            continue
        return sheet, head, line, mapping, ignored
    raise first_error or ImportFileError(gettext("文件「%(name)s」里没有工作表。") % {"name": name})


def _find_header(kind: str, rows: Iterable[tuple], name: str) -> tuple[int, dict[int, str], list[str]]:
    columns = COLUMNS[kind]
    known = {}
    for column in columns:
        for text in (column.header, *column.aliases):
            known[header_key(text)] = column.key
    best: tuple[int, dict[int, str], list[str]] | None = None
    for line, values in enumerate(rows, start=1):
        if line > HEADER_SCAN_ROWS:
            break
        mapping: dict[int, str] = {}
        ignored: list[str] = []
        duplicated: list[str] = []
        for index, value in enumerate(values):
            text = cell_text(value)
            if not text:
                continue
            key = known.get(header_key(text))
            if key is None:
                ignored.append(text)
            elif key in mapping.values():
                duplicated.append(text)
            else:
                mapping[index] = key
        if duplicated:
            raise ImportFileError(
                gettext("文件「%(name)s」第 %(line)s 行有重复的列：%(columns)s")
                % {"name": name, "line": line, "columns": "、".join(duplicated)}
            )
        if mapping and (best is None or len(mapping) > len(best[1])):
            best = (line, mapping, ignored)
    if best is None:
        raise ImportFileError(
            gettext("文件「%(name)s」的前 %(rows)s 行里找不到表头（应包含：%(columns)s）。")
            % {"name": name, "rows": HEADER_SCAN_ROWS, "columns": "、".join(c.header for c in columns)}
        )
    line, mapping, ignored = best
    missing = [column.header for column in columns if column.required and column.key not in mapping.values()]
    if missing:
        raise ImportFileError(
            gettext("文件「%(name)s」缺少必需的列：%(columns)s。请使用导入模板。")
            % {"name": name, "columns": "、".join(missing)}
        )
    return line, mapping, ignored


def _values(mapping: dict[int, str], row: tuple) -> dict[str, str]:
    return {key: cell_text(row[index]) if index < len(row) else "" for index, key in mapping.items()}


def _formula_error(sheet, name: str) -> None:
    if sheet.missing_formula_values:
        raise ImportFileError(
            gettext("文件「%(name)s」工作表「%(sheet)s」的公式没有保存计算结果（单元格 %(cells)s）。请在 Excel 中打开文件、保存后重新上传，或把公式列“粘贴为数值”。")
            % {"name": name, "sheet": sheet.name, "cells": "、".join(sheet.missing_formula_values)}
        )


def inspect_upload(kind: str, fileobj: BinaryIO, name: str) -> SheetInfo:
    """Checks made while the person waits: right format, the sheet and columns, one data row."""
    try:
        sheet, head, line, mapping, ignored = _pick_sheet(kind, name, fileobj)
        _formula_error(sheet, name)
        rows = itertools.chain(head[line:], sheet.rows)
        if not any(any(_values(mapping, row).values()) for row in rows):
            raise ImportFileError(gettext("文件「%(name)s」在表头下没有数据行。") % {"name": name})
        estimated = max(0, (sheet.estimated_rows or 0) - line)
        return SheetInfo(header_line=line, columns=mapping, estimated_rows=estimated, ignored_headers=ignored)
    finally:
        fileobj.seek(0)


def read_rows(
    kind: str, fileobj: BinaryIO, name: str, on_progress: Callable[[int, int], None] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column key: text}) for every non-empty row under the header, streamed:
    no row cap (F5), memory bounded by one row plus the reader's compact buffer."""
    sheet, head, line, mapping, _ignored = _pick_sheet(kind, name, fileobj)
    _formula_error(sheet, name)
    estimated = max(0, (sheet.estimated_rows or 0) - line)
    keys = [column.key for column in COLUMNS[kind]]
    for offset, row in enumerate(itertools.chain(head[line:], sheet.rows), start=1):
        if on_progress:
            on_progress(offset, max(estimated, offset))
        values = _values(mapping, row)
        if not any(values.values()):
            continue
        yield line + offset, {key: values.get(key, "") for key in keys}


# --- Checking rows ------------------------------------------------------------------------------


@dataclass
class CheckedRow:
    line: int
    values: dict[str, str]
    errors: list[dict] = field(default_factory=list)
    clean: dict = field(default_factory=dict)

    def error(self, key: str, code: str, **params) -> None:
        self.errors.append({"field": key, "code": code, "params": params} if params else {"field": key, "code": code})

    def as_json(self) -> dict:
        return {"line": self.line, "values": self.values, "errors": self.errors}


def normalise_phone(text: str) -> str | None:
    """E.164 for a CN mobile (1[3-9]…, 11 digits) or a landline with its area code; None if neither."""
    try:
        number = phonenumbers.parse(unicodedata.normalize("NFKC", text), "CN")
    except phonenumbers.NumberParseException:
        return None
    allowed = {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in allowed:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class RowRules(abc.ABC):
    """Checks one kind of row against the database; one instance per pass over a file, because
    "duplicate within the file" needs to remember the rows already seen. The same instance then
    creates the records, so lookups are loaded once. Rows come in batches: `prepare` loads what a
    batch needs from the database (only what earlier batches did not), then each row is checked."""

    kind: str
    columns: tuple[Column, ...]

    def __init__(self, by) -> None:
        self.by = by
        self.seen: dict[str, int] = {}

    def prepare(self, rows: list[tuple[int, dict[str, str]]]) -> None:
        """Load the lookups this batch of rows needs."""

    def check_batch(self, rows: list[tuple[int, dict[str, str]]]) -> list[CheckedRow]:
        self.prepare(rows)
        return [self.check(line, values) for line, values in rows]

    def check(self, line: int, values: dict[str, str]) -> CheckedRow:
        row = CheckedRow(line=line, values=values)
        for column in self.columns:
            text = values.get(column.key, "")
            if column.required and not text:
                row.error(column.key, "required")
            elif column.max_length and len(text) > column.max_length:
                row.error(column.key, "too_long", max=column.max_length)
        self.check_row(row)
        return row

    def check_duplicate(self, row: CheckedRow, key_field: str, key: str) -> bool:
        first = self.seen.setdefault(key, row.line)
        if first != row.line:
            row.error(key_field, "duplicate_in_file", line=first)
            return True
        return False

    @abc.abstractmethod
    def check_row(self, row: CheckedRow) -> None:
        """Add this kind's errors to `row`; fill `row.clean` when it has none."""

    @abc.abstractmethod
    def create(self, rows: list[CheckedRow], *, by, reason: str) -> int:
        """Create the records of clean rows (inside the caller's transaction); return how many."""


class CustomerRules(RowRules):
    kind = ImportKind.CUSTOMERS
    columns = CUSTOMER_COLUMNS

    def __init__(self, by) -> None:
        super().__init__(by)
        self.hospitals = {match_key(h.name): h for h in Hospital.objects.only("pk", "name")}
        self._hints: dict[str, str | None] = {}
        self.loaded_hospital_ids: set[int] = set()
        self.existing: set[tuple[int, str]] = set()
        self.looked_up_owners: set[str] = set()
        self.owners: dict[str, int] = {}
        self.allowed_owner_ids: set[int] = set()
        self.departments: dict[tuple[int, str], int] = {}
        self.loaded_department_ids: set[int] = set()

    def prepare(self, rows) -> None:
        hospital_ids = {self.hospitals[k].pk for k in {match_key(v.get("hospital", "")) for _, v in rows} if k in self.hospitals}
        hospital_ids -= self.loaded_hospital_ids
        if hospital_ids:
            self.loaded_hospital_ids |= hospital_ids
            self.existing.update(
                (hospital_id, match_key(name))
                for hospital_id, name in Customer.objects.filter(hospital_id__in=hospital_ids).values_list("hospital_id", "name")
            )
        usernames = {values.get("owner", "") for _, values in rows} - {""} - self.looked_up_owners
        if usernames:
            self.looked_up_owners |= usernames
            candidates = User.objects.filter(username__in=usernames, is_active=True, rep__isnull=False)
            owners = {user.username: user.pk for user in candidates.only("pk", "username")}
            self.owners.update(owners)
            self.allowed_owner_ids.update(users_visible_to(self.by).filter(pk__in=owners.values()).values_list("pk", flat=True))

    def _hint(self, text: str) -> str | None:
        if text not in self._hints:
            close = difflib.get_close_matches(match_key(text), list(self.hospitals), n=1, cutoff=0.75)
            self._hints[text] = self.hospitals[close[0]].name if close else None
        return self._hints[text]

    def check_row(self, row: CheckedRow) -> None:
        values = row.values
        hospital = self.hospitals.get(match_key(values["hospital"])) if values["hospital"] else None
        if values["hospital"] and hospital is None:
            hint = self._hint(values["hospital"])
            if hint:
                row.error("hospital", "unknown_hospital_hint", value=values["hospital"], suggestion=hint)
            else:
                row.error("hospital", "unknown_hospital", value=values["hospital"])
        if values["name"] and values["hospital"]:
            key = f"{match_key(values['hospital'])}\n{match_key(values['name'])}"
            duplicate = self.check_duplicate(row, "name", key)
            if not duplicate and hospital and (hospital.pk, match_key(values["name"])) in self.existing:
                row.error("name", "customer_exists", value=values["name"])
        title = ""
        if values["title"]:
            title = TITLE_WORDS.get(match_key(values["title"]), "")
            if not title:
                row.error("title", "bad_title", value=values["title"], choices="、".join(ContactTitle.values))
            elif not values["contact"]:
                row.error("contact", "contact_required")
        phone = ""
        if values["phone"]:
            phone = normalise_phone(values["phone"]) or ""
            if not phone:
                row.error("phone", "bad_phone", value=values["phone"])
        owner_id = None
        if values["owner"]:
            owner_id = self.owners.get(values["owner"])
            if owner_id is None:
                row.error("owner", "unknown_owner", value=values["owner"])
            elif owner_id not in self.allowed_owner_ids:
                row.error("owner", "owner_out_of_scope", value=values["owner"])
        if not row.errors:
            row.clean = {
                "hospital_id": hospital.pk,
                "name": values["name"],
                "department": values["department"],
                "contact": values["contact"],
                "title": title or ContactTitle.OTHER,
                "phone": phone,
                "owner_id": owner_id,
            }

    def create(self, rows: list[CheckedRow], *, by, reason: str) -> int:
        hospital_ids = {row.clean["hospital_id"] for row in rows} - self.loaded_department_ids
        self.loaded_department_ids |= hospital_ids
        departments = self.departments
        departments.update(
            ((d.hospital_id, match_key(d.name)), d.pk) for d in Department.objects.filter(hospital_id__in=hospital_ids)
        )
        new_departments: dict[tuple[int, str], Department] = {}
        for row in rows:
            if row.clean["department"]:
                key = (row.clean["hospital_id"], match_key(row.clean["department"]))
                if key not in departments and key not in new_departments:
                    new_departments[key] = Department(hospital_id=key[0], name=row.clean["department"])
        for department in _bulk_create(list(new_departments.values()), Department, by=by, reason=reason):
            departments[(department.hospital_id, match_key(department.name))] = department.pk
        customers = [
            Customer(
                hospital_id=row.clean["hospital_id"],
                department_id=departments.get((row.clean["hospital_id"], match_key(row.clean["department"]))),
                name=row.clean["name"],
                owner_id=row.clean["owner_id"],
                phone=row.clean["phone"],
            )
            for row in rows
        ]
        customers = _bulk_create(customers, Customer, by=by, reason=reason)
        imported_at = timezone.now()
        contacts = [
            # P1: an imported list's people were collected by its source; the basis is recorded.
            Contact(customer_id=customer.pk, name=row.clean["contact"], title=row.clean["title"], phone=row.clean["phone"],
                    consent_basis=ConsentBasis.IMPORT, consent_recorded_at=imported_at)
            for row, customer in zip(rows, customers, strict=True)
            if row.clean["contact"]
        ]
        _bulk_create(contacts, Contact, by=by, reason=reason)
        return len(customers)


class HospitalRules(RowRules):
    kind = ImportKind.HOSPITALS
    columns = HOSPITAL_COLUMNS

    def __init__(self, by) -> None:
        super().__init__(by)
        self.existing = {match_key(name) for name in Hospital.objects.values_list("name", flat=True)}

    @staticmethod
    def _decimal(row: CheckedRow, key: str) -> Decimal | None:
        text = unicodedata.normalize("NFKC", row.values[key]).replace("°", "").strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            row.error(key, "bad_number", value=row.values[key])
            return None
        return number.quantize(Decimal("0.000001"))

    def check_row(self, row: CheckedRow) -> None:
        values = row.values
        if values["name"]:
            if not self.check_duplicate(row, "name", match_key(values["name"])) and match_key(values["name"]) in self.existing:
                row.error("name", "hospital_exists", value=values["name"])
        grade = ""
        if values["grade"]:
            grade = GRADE_WORDS.get(match_key(values["grade"]), "")
            if not grade:
                row.error("grade", "bad_grade", value=values["grade"])
        latitude = longitude = None
        if values["latitude"] or values["longitude"]:
            if not (values["latitude"] and values["longitude"]):
                row.error("latitude" if not values["latitude"] else "longitude", "coordinates_pair")
            else:
                latitude, longitude = self._decimal(row, "latitude"), self._decimal(row, "longitude")
                self._check_ranges(row, latitude, longitude)
        system = CoordinateSystem.WGS84
        if values["coordinate_system"]:
            system = COORDINATE_WORDS.get(re.sub(r"[-_]", "", match_key(values["coordinate_system"])), "")
            if not system:
                row.error("coordinate_system", "bad_coordinate_system", value=values["coordinate_system"])
        if not row.errors:
            row.clean = {
                "name": values["name"],
                "grade": grade,
                "city": values["city"],
                "address": values["address"],
                "latitude": latitude,
                "longitude": longitude,
                "coordinate_system": system,
            }

    @staticmethod
    def _check_ranges(row: CheckedRow, latitude: Decimal | None, longitude: Decimal | None) -> None:
        if latitude is None or longitude is None:
            return
        lat_ok = LATITUDE_RANGE[0] <= latitude <= LATITUDE_RANGE[1]
        lon_ok = LONGITUDE_RANGE[0] <= longitude <= LONGITUDE_RANGE[1]
        if not lat_ok and not lon_ok and LATITUDE_RANGE[0] <= longitude <= LATITUDE_RANGE[1]:
            row.error("latitude", "coordinates_swapped")
            return
        if not lat_ok:
            row.error("latitude", "latitude_range", min=str(LATITUDE_RANGE[0]), max=str(LATITUDE_RANGE[1]))
        if not lon_ok:
            row.error("longitude", "longitude_range", min=str(LONGITUDE_RANGE[0]), max=str(LONGITUDE_RANGE[1]))

    def create(self, rows: list[CheckedRow], *, by, reason: str) -> int:
        return len(_bulk_create([Hospital(**row.clean) for row in rows], Hospital, by=by, reason=reason))


RULES: dict[str, type[RowRules]] = {ImportKind.CUSTOMERS: CustomerRules, ImportKind.HOSPITALS: HospitalRules}


def check_rows(kind: str, rows: list[tuple[int, dict[str, str]]], by) -> tuple[RowRules, list[CheckedRow]]:
    """All rows in one batch (small files, tests); the tasks go batch by batch."""
    rules = RULES[kind](by)
    return rules, rules.check_batch(rows)


def _batches(iterable: Iterable, size: int = STAGE_BATCH) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _bulk_create(objs: list, model, *, by, reason: str) -> list:
    """Create with one history row each, attributed to the person who confirmed (A2)."""
    if not objs:
        return []
    return bulk_create_with_history(objs, model, batch_size=BATCH_SIZE, default_user=by, default_change_reason=reason)


# --- Who may import -----------------------------------------------------------------------------


def can_import(user, kind: str) -> bool:
    """Supervisors import customers for their own team; the director and ops import anything."""
    role = role_of(user)
    if kind == ImportKind.CUSTOMERS:
        return role in (Role.SUPERVISOR, Role.DIRECTOR, Role.OPS)
    return role in (Role.DIRECTOR, Role.OPS)


def import_kinds_for(user) -> list[str]:
    return [kind for kind in ImportKind.values if can_import(user, kind)]


def import_jobs_visible_to(user):
    jobs = ImportJob.objects.select_related("uploaded_by")
    if sees_everything(user):
        return jobs
    if import_kinds_for(user):
        return jobs.filter(uploaded_by=user)
    return jobs.none()


def get_import_job_for_user(request: HttpRequest, pk, write: bool = False) -> ImportJob:
    """The one door to an import job: 404 for anyone who may not see it, 403 for changing a job
    of a kind the user may no longer import."""
    try:
        job = import_jobs_visible_to(request.user).get(pk=pk)
    except (ImportJob.DoesNotExist, ValueError, TypeError):
        raise Http404("import job")
    if write and not can_import(request.user, job.kind):
        raise PermissionDenied
    return job


# --- Services -----------------------------------------------------------------------------------


def import_start(*, kind: str, uploaded_file, by, estimated_rows: int = 0) -> ImportJob:
    """Store the upload and parse it in the background once the row is committed."""
    if not can_import(by, kind):
        raise PermissionDenied
    job = ImportJob(kind=kind, original_name=uploaded_file.name[:255], uploaded_by=by, total_rows=estimated_rows)
    job.file.save(uploaded_file.name, uploaded_file, save=False)
    job._history_user = by
    job.save()
    transaction.on_commit(lambda: _enqueue_parse(job.pk))
    return job


# A big file takes minutes to parse or to import: each task gets its own timeout, far above the
# cluster's default (settings.Q_CLUSTER["timeout"]); the cluster's `retry` is kept above it so the
# broker never hands a running import to a second worker.
IMPORT_TASK_TIMEOUT = 3600


def _enqueue(task: str, job_id: int, name: str) -> None:
    from django_q.tasks import async_task

    async_task(task, job_id, task_name=f"{name}-{job_id}", timeout=IMPORT_TASK_TIMEOUT)


def _enqueue_parse(job_id: int) -> None:
    _enqueue("salesops.tasks_imports.import_parse_task", job_id, "import-parse")


def _enqueue_apply(job_id: int) -> None:
    _enqueue("salesops.tasks_imports.import_apply_task", job_id, "import-apply")


class _Progress:
    """Saves processed/total every few rows (without a history row) and notices a cancel."""

    def __init__(self, job: ImportJob, status: str = ImportStatus.PARSING) -> None:
        self.job = job
        self.status = status
        self.step = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.step:
            self.step = max(100, total // 50)
        if done % self.step:
            return
        if not ImportJob.objects.filter(pk=self.job.pk, status=self.status).exists():
            raise ImportCancelled
        self.job.processed_rows, self.job.total_rows = done, total
        self.job.skip_history_when_saving = True
        try:
            self.job.save(update_fields=["processed_rows", "total_rows"])
        finally:
            del self.job.skip_history_when_saving


def _stage(job_id: int, checked: list[CheckedRow]) -> None:
    ImportRow.objects.bulk_create(
        [ImportRow(job_id=job_id, line=row.line, values=row.values, errors=row.errors, has_errors=bool(row.errors)) for row in checked],
        batch_size=STAGE_BATCH,
    )


def import_parse(job_id: int) -> None:
    """Task body: stream, check and stage every row in batches, then hand the job over to the
    preview. Idempotent: a job that is no longer being parsed is left alone; a second run starts
    the staging over."""
    job = ImportJob.objects.filter(pk=job_id, status=ImportStatus.PARSING).first()
    if job is None:
        return
    ImportRow.objects.filter(job_id=job_id).delete()
    total = errors = 0
    try:
        with job.file.open("rb") as fileobj:
            data = io.BytesIO(fileobj.read())
        rules = RULES[job.kind](job.uploaded_by)
        rows = read_rows(job.kind, data, job.original_name, on_progress=_Progress(job))
        for batch in _batches(rows):
            checked = rules.check_batch(batch)
            _stage(job_id, checked)
            total += len(checked)
            errors += sum(1 for row in checked if row.errors)
        del data, rules
    except ImportCancelled:
        ImportRow.objects.filter(job_id=job_id).delete()
        return
    except ImportFileError as exc:
        _finish_parse(job_id, status=ImportStatus.FAILED, error=str(exc))
        return
    except Exception:  # noqa: BLE001 - a broken file must end as a visible failure, not a silent task error
        logger.exception("import %s: parsing failed", job_id)
        message = gettext("无法读取文件「%(name)s」，请检查文件内容或使用导入模板。") % {"name": job.original_name}
        _finish_parse(job_id, status=ImportStatus.FAILED, error=message)
        return
    _finish_parse(job_id, status=ImportStatus.PREVIEW, total=total, errors=errors)


def _finish_parse(job_id: int, *, status: str, total: int = 0, errors: int = 0, error: str = "") -> None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id, status=ImportStatus.PARSING).first()
        if job is None or status == ImportStatus.FAILED:  # cancelled meanwhile: the person's decision wins
            ImportRow.objects.filter(job_id=job_id).delete()
        if job is None:
            return
        job.status = status
        job.error = error
        job.total_rows = job.processed_rows = total
        job.error_count = errors
        job.parsed_at = timezone.now()
        if status == ImportStatus.FAILED:
            job.finished_at = job.parsed_at
        job.save()


@dataclass
class ConfirmResult:
    created: int = 0
    error_rows: int = 0
    refused: str = ""
    queued: bool = False

    @property
    def ok(self) -> bool:
        return not self.refused


def import_confirm(*, job: ImportJob, by) -> ConfirmResult:
    """Create every row or none (A1). The job moves to "importing" and a task (`import_apply`)
    checks the rows again against the database as it is now and creates them; if any row has an
    error, nothing is written and the preview shows the new errors. With the queue running inline
    (tests, Q_SYNC) the result is known on return."""
    if not can_import(by, job.kind):
        raise PermissionDenied
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportStatus.PREVIEW:
            return ConfirmResult(refused=gettext("这次导入的状态是「%(status)s」，不能再确认。") % {"status": job.get_status_display()})
        if not job.total_rows:
            return ConfirmResult(refused=gettext("有 %(count)s 行有错误，未导入任何数据。请修改文件后重新上传。") % {"count": 0})
        job.status = ImportStatus.IMPORTING
        job.confirmed_by = by
        job.processed_rows = 0
        job.error = ""
        job._history_user = by
        job.save(update_fields=["status", "confirmed_by", "processed_rows", "error"])
        if not settings.Q_CLUSTER.get("sync"):
            transaction.on_commit(lambda: _enqueue_apply(job.pk))
    if settings.Q_CLUSTER.get("sync"):  # the queue runs inline (tests): the same work, now
        import_apply(job.pk)
    job.refresh_from_db()
    if job.status == ImportStatus.DONE:
        return ConfirmResult(created=job.created_count)
    if job.status == ImportStatus.PREVIEW:
        return ConfirmResult(error_rows=job.error_count, refused=job.error)
    return ConfirmResult(queued=True)


class _Refused(Exception):
    """Leave the import transaction: nothing it wrote stays."""


def import_apply(job_id: int) -> None:
    """Task body of the confirmation: re-check the staged rows batch by batch and create them, all
    inside one transaction; the first error stops the creating (checking goes on, so every bad row
    is reported) and the transaction is rolled back — never a half-written import."""
    job = ImportJob.objects.filter(pk=job_id, status=ImportStatus.IMPORTING).select_related("confirmed_by").first()
    if job is None:
        return
    by = job.confirmed_by
    rules = RULES[job.kind](by)
    reason = gettext("Excel 导入：%(name)s") % {"name": job.original_name}
    changed: dict[int, list[dict]] = {}  # staged row id → its new errors, where they differ
    error_rows = created = 0
    refused = ""
    try:
        with transaction.atomic():
            staged = ImportRow.objects.filter(job_id=job_id).order_by("line").values_list("pk", "line", "values", "errors")
            for batch in _batches(staged.iterator(chunk_size=STAGE_BATCH)):
                checked = rules.check_batch([(line, values) for _pk, line, values, _errors in batch])
                for (pk, _line, _values, old), row in zip(batch, checked, strict=True):
                    if row.errors != old:
                        changed[pk] = row.errors
                    error_rows += bool(row.errors)
                if not error_rows:
                    created += rules.create(checked, by=by, reason=reason)
            if error_rows:
                raise _Refused
    except _Refused:
        refused = gettext("有 %(count)s 行有错误，未导入任何数据。请修改文件后重新上传。") % {"count": error_rows}
    except IntegrityError:
        # Someone created the same record between our check and our insert.
        logger.info("import %s: integrity error at confirm", job_id, exc_info=True)
        refused = gettext("数据在确认期间被他人修改，未导入任何数据。请重新上传文件。")
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id, status=ImportStatus.IMPORTING).first()
        if job is None:
            return
        for batch in _batches(changed.items()):
            rows = [ImportRow(pk=pk, errors=errors, has_errors=bool(errors)) for pk, errors in batch]
            ImportRow.objects.bulk_update(rows, ["errors", "has_errors"])  # staging rows: no history of their own
        job._history_user = by
        job.processed_rows = job.total_rows
        if refused:
            job.status = ImportStatus.PREVIEW
            job.error = refused
            job.error_count = error_rows
            job.save()
            return
        job.status = ImportStatus.DONE
        job.created_count = created
        job.finished_at = timezone.now()
        job.save()


def import_cancel(*, job: ImportJob, by) -> bool:
    """Stop a job before it is imported; the uploaded file stays for the record."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if not job.can_cancel:
            return False
        job.status = ImportStatus.CANCELLED
        job.finished_at = timezone.now()
        job._history_user = by
        job.save(update_fields=["status", "finished_at"])
    return True


# --- Template -----------------------------------------------------------------------------------

CHOICE_LISTS = {
    "title": ContactTitle.values,
    "grade": ["三甲", "二甲", "民营"],
    "coordinate_system": ["WGS-84", "GCJ-02", "BD-09"],
}


def build_template(kind: str) -> bytes:
    """The import template: the header row the parser expects, drop-down lists where a value must
    be one of a few, phone numbers as text (Excel would turn them into numbers), and a 说明 sheet."""
    columns = COLUMNS[kind]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(ImportKind(kind).label)
    sheet.append([column.header for column in columns])
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FFF4E0")
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = bold
        if column.required:
            cell.fill = required_fill
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = 28 if column.key in ("name", "hospital", "address") else 14
        if column.key == "phone":
            sheet.column_dimensions[letter].number_format = "@"
        if column.key in CHOICE_LISTS:
            validation = DataValidation(type="list", formula1='"' + ",".join(CHOICE_LISTS[column.key]) + '"', allow_blank=True)
            validation.add(f"{letter}2:{letter}5000")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("说明")
    notes.append(["列", "必填", "说明"])
    for column in columns:
        notes.append([column.header, "是" if column.required else "", str(column.help)])
    notes.append([])
    notes.append(["规则", "", "只要有一行有错误，整个文件都不会导入；修改后重新上传即可。"])
    for letter, width in (("A", 14), ("B", 8), ("C", 60)):
        notes.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
