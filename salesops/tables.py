"""Lists as people use them (U6): whitelisted sort keys, date-range filters, paging, and the same
filtered list as an Excel file. A view keeps its own queryset and scoping; this only shapes it.

    rows = sort(request, rows, {"name": "name", "hospital": "hospital__name"}, default="name")
    rows, dates = date_range(request, rows, "due_date")
    if wants_export(request):
        return xlsx_response(request, "customers", headers, ([...] for row in rows))
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

logger = logging.getLogger("salesops.exports")

PAGE_SIZE = 50
EXPORT_MAX_ROWS = 20_000  # beyond this, narrow the filter: a list export is not a database dump
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- sorting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortState:
    key: str
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key


def sort(request: HttpRequest, rows: QuerySet, allowed: dict[str, str | Sequence[str]], default: str) -> tuple[QuerySet, SortState]:
    """`?sort=name` / `?sort=-name` with keys from `allowed` only (an unknown key is the default:
    a column name from the URL never reaches order_by)."""
    raw = str(request.GET.get("sort", ""))[:40]
    descending = raw.startswith("-")
    key = raw.lstrip("-")
    if key not in allowed:
        descending = default.startswith("-")
        key = default.lstrip("-")
    fields = allowed[key]
    fields = [fields] if isinstance(fields, str) else list(fields)
    if descending:
        fields = [f[1:] if f.startswith("-") else f"-{f}" for f in fields]
    order = fields
    return rows.order_by(*order, "-pk" if descending else "pk"), SortState(key, descending)


# --- date ranges --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    start: date | None
    end: date | None

    @property
    def active(self) -> bool:
        return bool(self.start or self.end)


def _parse_day(request: HttpRequest, name: str, label: str) -> date | None:
    raw = str(request.GET.get(name, "")).strip()[:20]
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None:
        messages.warning(request, _("“%(field)s”不是有效日期（格式：2026-03-01），已忽略。") % {"field": label})
    return day


def date_range(request: HttpRequest, rows: QuerySet, field: str) -> tuple[QuerySet, DateRange]:
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD`, both inclusive, on a date or datetime field (local days)."""
    start = _parse_day(request, "from", _("开始日期"))
    end = _parse_day(request, "to", _("结束日期"))
    if start and end and end < start:
        messages.warning(request, _("结束日期早于开始日期，已对调。"))
        start, end = end, start
    model_field = rows.model._meta.get_field(field.split("__")[0])
    is_datetime = model_field.get_internal_type() == "DateTimeField" and "__" not in field
    lookup = f"{field}__date" if is_datetime else field
    if start:
        rows = rows.filter(**{f"{lookup}__gte": start})
    if end:
        rows = rows.filter(**{f"{lookup}__lte": end})
    return rows, DateRange(start, end)


def page_of(request: HttpRequest, rows, size: int = PAGE_SIZE):
    """K1: one page of an ordered queryset without counting the whole table (size + 1 rows read)."""
    from .listing import list_page

    return list_page(rows, request.GET.get("page"), size)


# --- export ---------------------------------------------------------------------------------------


def wants_export(request: HttpRequest) -> bool:
    return request.GET.get("export") == "xlsx"


def safe_cell(value):
    """A cell as data, never a formula (U6): text starting with = + - @ (or a tab/CR that Excel
    strips first) is prefixed with an apostrophe-like quote so no spreadsheet evaluates it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, (int, float, date)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def xlsx_response(request: HttpRequest, name: str, headers: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    """The filtered list as `name-YYYYMMDD-HHMM.xlsx`; the export is logged (who, what, how many)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import TYPE_STRING

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=name[:31])
    sheet.append([str(h) for h in headers])
    count = 0
    for row in rows:
        if count >= EXPORT_MAX_ROWS:
            break
        cells = []
        for value in row:
            cleaned = safe_cell(value)
            if isinstance(cleaned, str):
                cell = WriteOnlyCell(sheet, value=cleaned)
                cell.data_type = TYPE_STRING  # never "f": a string that looks like a formula stays text
                cells.append(cell)
            else:
                cells.append(cleaned)
        sheet.append(cells)
        count += 1
    buffer = BytesIO()
    workbook.save(buffer)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    logger.info(
        "export list=%s rows=%s user=%s query=%s", name, count, getattr(request.user, "pk", None),
        request.GET.urlencode()[:300], extra={"export_list": name, "export_rows": count},
    )
    _log_list_export(request, name, count)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


# The model each exported list is made of (P3: an export of people's data is an access-log row).
EXPORTED_MODELS = {
    "leads": ("leads", "lead"),
    "quotes": ("cash", "quote"),
    "deals": ("cash", "deal"),
    "customers": ("salesops", "customer"),
    "hospitals": ("salesops", "hospital"),
    "visits": ("visits", "visittask"),
}


def _log_list_export(request: HttpRequest, name: str, count: int) -> None:
    """One access-log row per list export (who, which list with which filter, how many rows, from
    where) — `path` keeps the filter, `subject_id` the row count."""
    from django.contrib.contenttypes.models import ContentType

    from .models import AccessAction, AccessLog
    from .security import client_ip

    app_label, model = EXPORTED_MODELS.get(name, ("salesops", "customer"))
    user = request.user
    AccessLog.objects.create(
        user=user if user.is_authenticated else None,
        username=user.get_username() if user.is_authenticated else "",
        action=AccessAction.EXPORT,
        subject_type=ContentType.objects.get_by_natural_key(app_label, model),
        subject_id=_("列表导出 {count} 行").format(count=count)[:64],
        ip=client_ip(request),
        path=request.get_full_path()[:300],
    )
