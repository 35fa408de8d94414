"""Background task of the Excel import (A1). Takes an id, calls the service; safe to run twice."""

from __future__ import annotations


def import_parse_task(job_id: int) -> None:
    from .imports import import_parse

    import_parse(job_id)


def import_apply_task(job_id: int) -> None:
    from .imports import import_apply

    import_apply(job_id)
