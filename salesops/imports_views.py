"""Excel import of customers and hospitals (A1) — preview with per-row errors, atomic confirm."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import is_manager
from .models import ImportJob


@login_required
def import_list(request: HttpRequest) -> HttpResponse:
    jobs = ImportJob.objects.filter(uploaded_by=request.user)[:20] if is_manager(request.user) else ImportJob.objects.none()
    return render(request, "salesops/import_list.html", {"jobs": jobs})
