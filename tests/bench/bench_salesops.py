"""Foundation figures: demo seeding time and the scoped customer list."""

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
