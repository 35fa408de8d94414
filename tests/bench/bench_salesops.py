"""Foundation figures: demo seeding time, the scoped customer list, and the Excel import of 5,000
customers (A1): upload check, background parse with progress, preview page, atomic confirm."""

from __future__ import annotations

import io
import random
import statistics
import time

from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext


def run(report) -> None:
    from salesops.demo import DemoContext, seed_master_data
    from salesops.models import Role

    report.section("foundation")
    started = time.perf_counter()
    ctx = DemoContext(rng=random.Random(2026), stdout=io.StringIO())
    seed_master_data(ctx)
    report.line("seed master data (47 reps, 213 hospitals)", f"{time.perf_counter() - started:.2f} s")

    rep = next(user for user in ctx.reps if user.rep.role == Role.REP)
    client = Client()
    client.force_login(rep)
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        client.get("/customers/")
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get("/customers/")
    timings.sort()
    report.line(
        "GET /customers/ as a rep (p50 / p95)",
        f"{statistics.median(timings):.1f} / {timings[int(len(timings) * 0.95) - 1]:.1f} ms",
        f"{len(queries)} queries",
    )
    reset_queries()
    bench_import(report, ctx)
    bench_import_200k(report)


def bench_import_200k(report) -> None:
    """F5: 200,000 rows in a child process (its own peak RSS), budget 1 GB."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    report.section("Excel import (F5), 200,000 customer rows, own process")
    script = Path(__file__).with_name("import_200k.py")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=os.environ.copy(), timeout=3600, check=False)
    if done.returncode != 0:
        report.line("200k import", "failed", done.stderr.strip().splitlines()[-1][:80] if done.stderr.strip() else "")
        return
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    report.line("workbook", f"{figures['bytes'] / 1024 / 1024:.1f} MB", f"built in {figures['build_s']:.0f} s")
    report.line("parse + check every row (task body)", f"{figures['parse_s']:.0f} s", f"{figures['error_rows']} error rows")
    report.line("confirm: re-check + create all", f"{figures['confirm_s']:.0f} s", f"{figures['created']:,} customers created {figures['refused']}")
    report.line("peak RSS of the import process", f"{figures['peak_rss_mb']:.0f} MB", f"budget 1024 MB (before import {figures['rss_before_mb']:.0f} MB)")


IMPORT_ROWS = 5000


def _customer_rows(ctx, count: int, *, bad_every: int = 0, batch: str = "导入") -> list[list]:
    departments = ["骨科", "关节外科", "脊柱外科", "创伤骨科", "运动医学科", "疼痛科", "康复科"]
    titles = ["主任", "副主任", "护士长", "医生", "采购", "院长"]
    reps = [user.username for user in ctx.reps]
    rows = []
    for index in range(count):
        hospital = ctx.hospitals[index % len(ctx.hospitals)]
        department = departments[index % len(departments)]
        phone = f"13{(index % 7) + 3}{index:08d}" if not (bad_every and index % bad_every == 0) else "12345"
        rows.append(
            [f"{hospital.name} {department}{batch}{index}", hospital.name, department, f"联系人{index}", titles[index % len(titles)], phone, reps[index % len(reps)]]
        )
    return rows


def bench_import(report, ctx) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from salesops.imports import import_confirm, import_parse, import_start, inspect_upload
    from salesops.models import Contact, Customer, ImportJob
    from tests.salesops.xlsx import CUSTOMER_HEADERS, XLSX_TYPE, xlsx_bytes

    report.section(f"Excel import (A1), {IMPORT_ROWS:,} customer rows, as the director")
    started = time.perf_counter()
    content = xlsx_bytes(CUSTOMER_HEADERS, _customer_rows(ctx, IMPORT_ROWS))
    report.line("build the .xlsx (openpyxl)", f"{time.perf_counter() - started:.2f} s", f"{len(content) / 1024:.0f} KiB")

    def start(data: bytes):
        upload = SimpleUploadedFile("客户.xlsx", data, content_type=XLSX_TYPE)
        began = time.perf_counter()
        sheet = inspect_upload("customers", upload.file, upload.name)
        checked = time.perf_counter() - began
        job = import_start(kind="customers", uploaded_file=upload, by=ctx.director, estimated_rows=sheet.estimated_rows)
        return job, checked

    job, checked = start(content)
    report.line("upload check (format, header, first row)", f"{checked * 1000:.0f} ms")
    # Q_SYNC ran the task already on commit; time a parse on its own for the figure.
    ImportJob.objects.filter(pk=job.pk).delete()
    job, _checked = start(content)
    ticks = ImportJob.history.filter(id=job.pk).count()
    job = ImportJob.objects.get(pk=job.pk)
    job.status = "parsing"
    job.save()
    started = time.perf_counter()
    import_parse(job.pk)
    parse_seconds = time.perf_counter() - started
    job.refresh_from_db()
    report.line("parse + check every row (task body)", f"{parse_seconds:.2f} s", f"{job.total_rows} rows, {job.error_count} errors")
    report.line("history rows per job after parse", str(ticks), "progress ticks write none")

    client = Client()
    client.force_login(ctx.director)
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        client.get(f"/imports/job/{job.pk}/")
    report.line("GET preview page (100 rows shown)", f"{(time.perf_counter() - started) * 1000:.0f} ms", f"{len(queries)} queries")

    before = Customer.objects.count(), Contact.objects.count()
    started = time.perf_counter()
    result = import_confirm(job=job, by=ctx.director)
    confirm_seconds = time.perf_counter() - started
    created = Customer.objects.count() - before[0], Contact.objects.count() - before[1]
    report.line("confirm: re-check + create all (one transaction)", f"{confirm_seconds:.2f} s", f"{created[0]} customers, {created[1]} contacts")
    report.line("total parse + import", f"{parse_seconds + confirm_seconds:.2f} s", f"{IMPORT_ROWS / (parse_seconds + confirm_seconds):.0f} rows/s")
    assert result.ok

    bad = xlsx_bytes(CUSTOMER_HEADERS, _customer_rows(ctx, IMPORT_ROWS, bad_every=10, batch="二批"))
    job, _checked = start(bad)
    job.refresh_from_db()
    started = time.perf_counter()
    result = import_confirm(job=job, by=ctx.director)
    report.line("confirm refused (10 % bad rows): nothing written", f"{(time.perf_counter() - started) * 1000:.0f} ms", f"{result.error_rows} error rows")
