"""F5 figure, run in its own process by bench_salesops so its peak memory is its own: a 200,000-row
customer workbook parsed, checked and staged in batches, then re-checked and imported in batches
inside one transaction (the confirm task's body). Prints JSON."""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from pathlib import Path

ROWS = int(os.environ.get("IMPORT_BENCH_ROWS", "200000"))


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesops.settings")
    os.environ["Q_SYNC"] = "0"  # the parse is timed below, not run inside the on-commit hook
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from openpyxl import Workbook

    from salesops.imports import import_apply, import_confirm, import_parse, import_start
    from salesops.models import Hospital, ImportJob, Rep, Role
    from tests.salesops.xlsx import CUSTOMER_HEADERS, XLSX_TYPE

    hospitals = list(Hospital.objects.values_list("name", flat=True)[:50])
    director = Rep.objects.filter(role=Role.DIRECTOR).select_related("user").first().user
    reps = list(Rep.objects.filter(role=Role.REP, user__is_active=True).values_list("user__username", flat=True)[:20])
    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(CUSTOMER_HEADERS)
    for index in range(ROWS):
        sheet.append([f"{hospitals[index % len(hospitals)]} 科室二十万{index}", hospitals[index % len(hospitals)], "骨科", f"联系人{index}", "医生", f"13{(index % 7) + 3}{index:08d}", reps[index % len(reps)]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    content = buffer.getvalue()
    build = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    upload = SimpleUploadedFile("二十万客户.xlsx", content, content_type=XLSX_TYPE)
    job = import_start(kind="customers", uploaded_file=upload, by=director, estimated_rows=ROWS)
    ImportJob.objects.filter(pk=job.pk).update(status="parsing")
    started = time.perf_counter()
    import_parse(job.pk)
    parse = time.perf_counter() - started
    job = ImportJob.objects.get(pk=job.pk)
    started = time.perf_counter()
    result = import_confirm(job=job, by=director)  # queued for the worker (Q_SYNC=0): run its body here
    import_apply(job.pk)
    confirm = time.perf_counter() - started
    job = ImportJob.objects.get(pk=job.pk)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": ROWS, "bytes": len(content), "build_s": build, "parse_s": parse, "confirm_s": confirm, "created": job.created_count, "error_rows": job.error_count, "refused": result.refused or job.error, "peak_rss_mb": peak_mb, "rss_before_mb": rss_before / 1024}))


if __name__ == "__main__":
    main()
