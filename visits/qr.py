"""QR codes of visit tasks (V2): they carry the absolute task URL with its unguessable token."""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.urls import reverse

from .models import VisitTask


def task_url(task: VisitTask) -> str:
    base = getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    return f"{base}{reverse('visits:by_token', args=[task.token])}"


def _code(task: VisitTask):
    return segno.make(task_url(task), error="m", micro=False)


def qr_svg(task: VisitTask, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    _code(task).save(buffer, kind="svg", scale=scale, border=2, xmldecl=False, title=f"{task.customer.name}")
    return buffer.getvalue()


def qr_png(task: VisitTask, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    _code(task).save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
