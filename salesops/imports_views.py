"""Excel import of customers and hospitals (A1) — upload, progress, preview with per-row errors,
confirm (all rows or none), cancel, template download. The workflow is in salesops/imports.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from .forms import ImportUploadForm
from .imports import (
    COLUMNS,
    can_import,
    build_template,
    error_message,
    get_import_job_for_user,
    import_cancel,
    import_confirm,
    import_jobs_visible_to,
    import_kinds_for,
    import_start,
)
from .models import ImportJob, ImportKind, ImportStatus

PREVIEW_PAGE_SIZE = 100


def _kind_or_404(kind: str) -> str:
    if kind not in ImportKind.values:
        raise Http404("import kind")
    return kind


def _require_import_right(request: HttpRequest, kind: str) -> None:
    if not can_import(request.user, kind):
        raise PermissionDenied


@login_required
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    kinds = import_kinds_for(request.user)
    if not kinds:
        raise PermissionDenied
    jobs = import_jobs_visible_to(request.user)[:30]
    return render(
        request,
        "salesops/import_list.html",
        {"jobs": jobs, "kinds": [(kind, ImportKind(kind).label) for kind in kinds]},
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind_or_404(kind)
    _require_import_right(request, kind)
    posted = request.method == "POST"
    form = ImportUploadForm(request.POST if posted else None, request.FILES if posted else None, kind=kind)
    if posted and form.is_valid():
        job = import_start(
            kind=kind, uploaded_file=form.cleaned_data["file"], by=request.user, estimated_rows=form.sheet.estimated_rows
        )
        return redirect("imports:detail", pk=job.pk)
    return render(
        request,
        "salesops/import_upload.html",
        {"form": form, "kind": kind, "kind_label": ImportKind(kind).label, "columns": COLUMNS[kind]},
        status=400 if form.is_bound else 200,
    )


@login_required
@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    kind = _kind_or_404(kind)
    _require_import_right(request, kind)
    response = HttpResponse(
        build_template(kind), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    filename = f"salesops-{kind}-template.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _preview(request: HttpRequest, job: ImportJob) -> dict:
    """One page of rows, errors first by default: each row with its cells and (field, message) pairs."""
    columns = COLUMNS[job.kind]
    show = request.GET.get("show") or ("errors" if job.error_count else "all")
    rows = job.staged_rows.order_by("line").only("line", "values", "errors")
    if show == "errors":
        rows = rows.filter(has_errors=True)
    page = Paginator(rows, PREVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    labels = {column.key: column.label for column in columns}
    lines = []
    for row in page:
        bad_fields = {error["field"] for error in row.errors}
        lines.append(
            {
                "line": row.line,
                "cells": [(row.values.get(column.key, ""), column.key in bad_fields) for column in columns],
                "errors": [(labels.get(e["field"], e["field"]), error_message(e)) for e in row.errors],
            }
        )
    return {"columns": columns, "page": page, "lines": lines, "show": show}


@vary_on_headers("HX-Request")
@login_required
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job page. While parsing, the #job fragment polls itself every second (htmx); without
    JavaScript the page reloads itself. Once parsed, the same fragment carries the preview."""
    job = get_import_job_for_user(request, pk)
    context = {"job": job, "can_write": can_import(request.user, job.kind)}
    if job.status not in (ImportStatus.PARSING, ImportStatus.IMPORTING) and job.staged_rows.exists():
        context.update(_preview(request, job))
    template = "salesops/import_detail.html"
    if request.htmx:
        template += "#job"
    return render(request, template, context)


@login_required
@require_POST
def import_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_import_job_for_user(request, pk, write=True)
    result = import_confirm(job=job, by=request.user)
    if result.queued:
        messages.info(request, gettext("正在导入「%(name)s」，完成后本页会显示结果。") % {"name": job.original_name})
    elif result.ok:
        messages.success(
            request,
            gettext("已导入 %(count)s 条%(kind)s。") % {"count": result.created, "kind": job.get_kind_display()},
        )
    else:
        messages.error(request, result.refused)
    return redirect("imports:detail", pk=job.pk)


@login_required
@require_POST
def import_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_import_job_for_user(request, pk, write=True)
    if import_cancel(job=job, by=request.user):
        messages.info(request, gettext("已取消导入「%(name)s」，没有写入任何数据。") % {"name": job.original_name})
    else:
        messages.error(request, gettext("这次导入已结束，不能取消。"))
    return redirect(reverse("imports:list"))
