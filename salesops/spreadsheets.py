"""Reading tabular files as customers keep them (F5, R4) — one reader for the Excel import and the
bank-statement parser.

- Every spreadsheet kind through python-calamine (Rust; .xlsx/.xlsm, old BIFF .xls, .ods): it reads
  the cached value of a formula, merged ranges, and streams rows from its own compact buffer.
- Bounded before anything is parsed: a zip's declared uncompressed size and each member's
  compression ratio are checked against caps (a sharedStrings "zip bomb" is refused in
  milliseconds, not after pinning a worker); broken XML is a refusal naming the file, never a 500.
- Text files: UTF-8 (with or without BOM), UTF-16 with BOM, GBK/GB18030; comma, TAB or semicolon
  separated, CRLF or LF; HTML tables saved as ".xls" (online-banking exports) are read as tables.
- Formulas whose value was never saved (files written by scripts, not by Excel) are found by a
  streaming scan of the sheet XML and reported with their cell references.

Everything raises `TableFileError` with a Chinese message that names the file and says what to do.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from xml.etree.ElementTree import ParseError, iterparse

from django.conf import settings
from django.utils.translation import gettext as _

MB = 1024 * 1024
# What a real workbook stays under: 200,000 rows × 10 columns is ≈ 60 MB of sheet XML.
DEFAULT_MAX_UNCOMPRESSED = 400 * MB
# Spreadsheet XML compresses 5–30×; 100× only with many identical rows. A bomb is ≥ 1,000×.
DEFAULT_MAX_RATIO = 150
RATIO_CHECK_FROM = 2 * MB  # small members (styles, a tiny sheet) may compress as they like
MAX_FORMULA_REFS = 10

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class TableFileError(Exception):
    """The file as a whole cannot be read. The message names the file and what to do."""


@dataclass
class Sheet:
    name: str
    rows: Iterator[list]  # every row from the sheet's first line (index 0 = line 1)
    estimated_rows: int = 0
    missing_formula_values: list[str] = field(default_factory=list)


@dataclass
class TableFile:
    kind: str  # xlsx | xls | ods | csv | tsv | html
    encoding: str
    sheets: list[Sheet]


def _cap(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# --- Zip containers (xlsx, ods) -------------------------------------------------------------------


def check_zip_bounds(data: bytes, filename: str) -> zipfile.ZipFile:
    """Refuse a container whose members would expand beyond the caps, before decompressing any."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise TableFileError(_("文件「%(name)s」已损坏（压缩结构无法读取），请在 Excel 中重新保存后上传。") % {"name": filename}) from exc
    total = sum(member.file_size for member in members)
    limit, ratio_limit = _cap("SPREADSHEET_MAX_UNCOMPRESSED_BYTES", DEFAULT_MAX_UNCOMPRESSED), _cap("SPREADSHEET_MAX_RATIO", DEFAULT_MAX_RATIO)
    if total > limit:
        raise TableFileError(
            _("文件「%(name)s」解压后约 %(size)d MB，超过上限 %(limit)d MB，已拒绝读取。请拆分成多个文件或另存为 CSV 后上传。")
            % {"name": filename, "size": total // MB, "limit": limit // MB}
        )
    for member in members:
        if member.file_size > RATIO_CHECK_FROM and member.file_size > ratio_limit * max(member.compress_size, 1):
            raise TableFileError(
                _("文件「%(name)s」中的「%(member)s」压缩比异常（%(ratio)d 倍，上限 %(limit)d 倍），疑似“压缩炸弹”，已拒绝读取。请在 Excel 中重新保存或另存为 CSV 后上传。")
                % {"name": filename, "member": member.filename, "ratio": member.file_size // max(member.compress_size, 1), "limit": ratio_limit}
            )
    return archive


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its XML part, from workbook.xml and its relationships (xlsx only)."""
    try:
        ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
        ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
        targets = {}
        for _event, element in iterparse(archive.open("xl/_rels/workbook.xml.rels")):
            if element.tag.endswith("Relationship"):
                target = element.get("Target", "").lstrip("/")
                targets[element.get("Id")] = target if target.startswith("xl/") else f"xl/{target}"
        paths = {}
        for _event, element in iterparse(archive.open("xl/workbook.xml")):
            if element.tag == f"{ns_main}sheet":
                paths[element.get("name", "")] = targets.get(element.get(f"{ns_rel}id"), "")
        return paths
    except (KeyError, ParseError, OSError):
        return {}


def formulas_without_values(archive: zipfile.ZipFile, part: str) -> list[str]:
    """Cell references of formulas with no cached value (`<c><f>…</f></c>` without `<v>`)."""
    found: list[str] = []
    try:
        handle = archive.open(part)
    except KeyError:
        return found
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    try:
        for _event, element in iterparse(handle):
            if element.tag == f"{ns}c":
                formula, value = element.find(f"{ns}f"), element.find(f"{ns}v")
                inline = element.find(f"{ns}is")
                if formula is not None and (value is None or value.text in (None, "")) and inline is None:
                    found.append(element.get("r", "?"))
                    if len(found) >= MAX_FORMULA_REFS:
                        break
                element.clear()
            elif element.tag == f"{ns}row":
                element.clear()
    except ParseError:
        return found  # calamine reports broken XML with its own refusal
    return found


# --- Spreadsheets -----------------------------------------------------------------------------


def _filled_rows(sheet, merged: list) -> Iterator[list]:
    """Rows with absolute column positions; a merged range's value copied into every cell of it."""
    start_col = sheet.start[1] if sheet.start else 0
    pad = [""] * start_col
    by_first_row: dict[int, list] = {}
    for (r0, c0), (r1, c1) in merged:
        by_first_row.setdefault(r0, []).append((r0, c0, r1, c1))
    active: list[tuple[int, int, int, object]] = []  # (last row, first col, last col, value)
    for index, row in enumerate(sheet.iter_rows()):
        row = pad + list(row) if start_col else list(row)
        for r0, c0, r1, c1 in by_first_row.pop(index, []):
            value = row[c0] if c0 < len(row) else ""
            active.append((r1, c0, c1, value))
        if active:
            for r1, c0, c1, value in active:
                if len(row) <= c1:
                    row.extend([""] * (c1 + 1 - len(row)))
                for col in range(c0, c1 + 1):
                    row[col] = value
            active = [item for item in active if item[0] > index]
        yield row


def read_spreadsheet(data: bytes, filename: str) -> TableFile:
    from python_calamine import CalamineWorkbook

    kind, archive, parts = "xls", None, {}
    if data[:4] == b"PK\x03\x04":
        archive = check_zip_bounds(data, filename)
        names = set(archive.namelist())
        kind = "xlsx" if "xl/workbook.xml" in names else "ods" if "content.xml" in names else ""
        if not kind:
            raise TableFileError(_("文件「%(name)s」是压缩包或其他 Office 文档，不是 Excel 表格。请上传 .xlsx、.xls 或 .csv 文件。") % {"name": filename})
        if kind == "xlsx":
            parts = _sheet_paths(archive)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        metadata = [meta for meta in workbook.sheets_metadata if "WorkSheet" in str(meta.typ)]
        names = [meta.name for meta in metadata] or list(workbook.sheet_names)
        sheets = []
        for name in names:
            sheet = workbook.get_sheet_by_name(name)
            merged = list(sheet.merged_cell_ranges or [])
            missing = formulas_without_values(archive, parts[name]) if archive and parts.get(name) else []
            sheets.append(Sheet(name=name, rows=_filled_rows(sheet, merged), estimated_rows=sheet.height, missing_formula_values=missing))
    except TableFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - calamine's errors (broken XML, bad BIFF) are one refusal
        raise TableFileError(
            _("文件「%(name)s」的内容已损坏，无法读取（%(error)s）。请在 Excel 中打开并另存为 .xlsx 后重新上传。")
            % {"name": filename, "error": str(exc)[:120]}
        ) from exc
    return TableFile(kind=kind, encoding=kind, sheets=sheets)


# --- Text: CSV, TSV, HTML-as-.xls ---------------------------------------------------------------


def decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """(text, encoding label). BOMs first; then strict UTF-8; then GB18030 (a superset of GBK)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    for encoding, label in (("utf-8-sig", "utf-8"), ("gb18030", "gbk")):
        try:
            return data.decode(encoding), label
        except UnicodeDecodeError:
            continue
    raise TableFileError(_("文件「%(name)s」的编码无法识别（既不是 UTF-8 也不是 GBK）。请用 Excel 另存为“CSV UTF-8”后上传。") % {"name": filename})


class _Tables(HTMLParser):
    """Every <table> as rows of cell texts; colspan repeated so columns stay aligned."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._span = 1
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._depth += 1
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell, span = [], dict(attrs).get("colspan") or "1"
            self._span = int(span) if span.isascii() and span.isdigit() and 0 < int(span) < 50 else 1
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            text = re.sub(r"\s+", " ", "".join(self._cell)).strip()
            self._row.extend([text] + [""] * (self._span - 1))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def looks_like_html(text: str) -> bool:
    head = text[:4096].lstrip().lower()
    return head.startswith(("<html", "<!doctype", "<table", "<?xml", "<meta", "<head")) and "<table" in text[:200_000].lower()


def _delimiter(text: str) -> str:
    """The separator that splits the first lines into the most consistent, widest rows."""
    sample = text[:64 * 1024].splitlines()[:80]
    best, best_score = ",", -1
    for candidate in (",", "\t", ";", "|"):
        widths = [len(row) for row in csv.reader(sample, delimiter=candidate)]
        wide = [width for width in widths if width >= 3]
        score = max((wide.count(width) * width for width in set(wide)), default=0)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _csv_rows(reader, filename: str) -> Iterator[list]:
    try:
        yield from reader
    except csv.Error as exc:
        raise TableFileError(
            _("文件「%(name)s」第 %(line)d 行格式错误（%(error)s），请检查引号是否成对，或用 Excel 另存为 .xlsx 后上传。")
            % {"name": filename, "line": reader.line_num, "error": str(exc)[:80]}
        ) from exc


def read_text_table(data: bytes, filename: str) -> TableFile:
    if b"\x00" in data[:4096] and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise TableFileError(_("文件「%(name)s」既不是文本表格也不是 Excel 工作簿。请上传 .xlsx、.xls 或 .csv 文件。") % {"name": filename})
    text, encoding = decode_text(data, filename)
    if looks_like_html(text):
        parser = _Tables()
        try:
            parser.feed(text)
            parser.close()
        except Exception as exc:  # noqa: BLE001 - html.parser is lenient; anything left is a broken file
            raise TableFileError(_("文件「%(name)s」是网页格式的表格，但无法读取。请在 Excel 中打开并另存为 .xlsx 后上传。") % {"name": filename}) from exc
        tables = [table for table in parser.tables if table]
        if not tables:
            raise TableFileError(_("文件「%(name)s」是网页，里面没有表格。请从网银重新导出明细。") % {"name": filename})
        return TableFile(kind="html", encoding=encoding, sheets=[Sheet(name=f"table{i + 1}" if len(tables) > 1 else "", rows=iter(t), estimated_rows=len(t)) for i, t in enumerate(tables)])
    delimiter = _delimiter(text)
    rows = _csv_rows(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), filename)
    kind = "tsv" if delimiter == "\t" else "csv"
    return TableFile(kind=kind, encoding=encoding, sheets=[Sheet(name="", rows=rows, estimated_rows=text.count("\n") + 1)])


def read_table_file(data: bytes, filename: str) -> TableFile:
    """Any tabular file, identified by its content, never by its name."""
    if not data:
        raise TableFileError(_("文件「%(name)s」是空的，请重新选择文件。") % {"name": filename})
    if data[:4] == b"PK\x03\x04" or data[:8] == OLE_MAGIC:
        return read_spreadsheet(data, filename)
    return read_text_table(data, filename)
