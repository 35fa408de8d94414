"""Leads figures (L4): intake-to-assigned latency through the real signed HTTP endpoint with 500
reps and 100k historical leads, queries per intake, the assignment decision alone, and the ratio
to a trivial view that inserts one row — all measured in the same run, same database.

Run: `make bench BENCH_ARGS=bench_leads` (or `.venv/bin/python -m tests.bench bench_leads`).
The bench's own rows are removed at the end so later bench modules see the database as before.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
import types
import uuid
from datetime import timedelta

REPS = 500
HISTORICAL_LEADS = 100_000
INTAKES = 300
WARMUP = 20
SECRET = "whsec_YmVuY2gtc2VjcmV0LWtleS0wMTIzNDU2Nzg5YWJjZA=="


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} / {_pct(values, 0.95):.2f} ms"


def _setup(rng: random.Random):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from leads.models import Lead, LeadStatus
    from salesops.models import Hospital, HospitalGrade, Product, ProductLine, Rep, Role, Team

    User = get_user_model()
    lines = [ProductLine.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in (("joint", "关节类"), ("spine", "脊柱类"), ("trauma", "创伤类"), ("sports", "运动医学类"))]
    products = []
    for index, line in enumerate(lines):
        for number in range(3):
            products.append(Product.objects.get_or_create(model_number=f"BENCH-{line.code}-{number}", defaults={"name": "bench", "line": line, "list_price": 1000})[0])
    grades = [HospitalGrade.GRADE_3A, HospitalGrade.GRADE_2A, HospitalGrade.PRIVATE]
    hospitals = [Hospital.objects.get_or_create(name=f"基准医院{index}", defaults={"grade": grades[index % 3], "city": "杭州"})[0] for index in range(30)]
    teams = [Team.objects.get_or_create(name=f"基准团队{index}")[0] for index in range(10)]
    password = make_password(None)
    users = User.objects.bulk_create([User(username=f"bench_rep_{index:03d}", first_name=f"基准{index}", password=password) for index in range(REPS)])
    if users[0].pk is None:
        users = list(User.objects.filter(username__startswith="bench_rep_").order_by("username"))
    reps = Rep.objects.bulk_create(
        [
            Rep(user=user, role=Role.REP, team=teams[index % len(teams)], grades_served=rng.choice([["3A"], ["3A", "2A"], ["2A", "private"], ["3A", "2A", "private"]]),
                capacity=rng.choice([40, 60, 80]), on_duty=rng.random() > 0.06, wecom_userid=user.username)
            for index, user in enumerate(users)
        ]
    )
    if reps[0].pk is None:
        reps = list(Rep.objects.filter(user__in=users))
    Through = Rep.product_lines.through
    Through.objects.bulk_create([Through(rep_id=rep.pk, productline_id=line.pk) for rep in reps for line in rng.sample(lines, rng.choice((1, 2)))])
    now = timezone.now()
    first_pk = None
    batch = []
    statuses = [LeadStatus.CLOSED] * 6 + [LeadStatus.CONVERTED] * 2 + [LeadStatus.CONTACTED]
    for index in range(HISTORICAL_LEADS):
        user = users[rng.randrange(REPS)]
        created = now - timedelta(minutes=rng.randrange(180 * 24 * 60))
        # ~4 % still open, which gives every rep a realistic open workload (待办数)
        status = rng.choice([LeadStatus.ASSIGNED, LeadStatus.ACKNOWLEDGED]) if rng.random() < 0.04 else rng.choice(statuses)
        batch.append(Lead(contact_name="历史", phone=f"+8613{index:09d}", status=status, assignee=user, created_at=created, assigned_at=created,
                          hospital_grade=rng.choice(grades), product=rng.choice(products)))
        if len(batch) == 5000:
            created_rows = Lead.objects.bulk_create(batch)
            first_pk = first_pk or created_rows[0].pk
            batch = []
    if batch:
        Lead.objects.bulk_create(batch)
    if first_pk is None:
        first_pk = Lead.objects.filter(contact_name="历史").order_by("pk").values_list("pk", flat=True).first()
    return users, products, hospitals, first_pk


def _cleanup(users, first_lead_pk) -> None:
    """Raw deletes: the bench database is throwaway, but later bench modules should not see 500
    extra reps and 100k leads."""
    from django.db import connection

    user_ids = [user.pk for user in users]
    with connection.cursor() as cursor:
        # Customers created by the bench's intakes were given their first assignee as owner.
        cursor.execute("UPDATE salesops_customer SET owner_id = NULL WHERE owner_id IN (%s)" % ",".join(map(str, user_ids)))
        for table in ("leads_assignmentdecision", "leads_leadrepeat", "leads_contactattempt", "leads_dialercall"):
            cursor.execute(f"DELETE FROM {table} WHERE lead_id >= %s", [first_lead_pk])
        cursor.execute("DELETE FROM salesops_notification WHERE recipient_id IN (%s)" % ",".join(map(str, user_ids)))
        cursor.execute("DELETE FROM leads_lead WHERE id >= %s", [first_lead_pk])
        cursor.execute("DELETE FROM django_q_schedule WHERE func = 'leads.tasks.escalate_lead'")
        cursor.execute("DELETE FROM salesops_rep_product_lines WHERE rep_id IN (SELECT id FROM salesops_rep WHERE user_id IN (%s))" % ",".join(map(str, user_ids)))
        cursor.execute("DELETE FROM salesops_rep WHERE user_id IN (%s)" % ",".join(map(str, user_ids)))
        cursor.execute("DELETE FROM auth_user WHERE id IN (%s)" % ",".join(map(str, user_ids)))


def _trivial_urlconf():
    """A throwaway URLconf (never in the product) with one view that inserts one row."""
    from django.http import JsonResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    from leads.models import WebhookReceipt

    @csrf_exempt
    def insert_one(request):
        row = WebhookReceipt.objects.create(endpoint="bench", key=uuid.uuid4().hex, status_code=201, response={})
        return JsonResponse({"id": row.pk}, status=201)

    module = types.ModuleType("bench_leads_trivial_urls")
    module.urlpatterns = [path("trivial", insert_one)]
    return module


def run(report) -> None:
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from leads import assignment
    from leads.models import AssignmentRules, Lead, WebhookReceipt
    from salesops.integrations.webhooks import signature_headers

    report.section("leads (L4: intake → assigned)")
    rng = random.Random(2026)
    started = time.perf_counter()
    users, products, hospitals, first_lead_pk = _setup(rng)
    if connection.vendor == "sqlite":
        # The bulk load above left ~100k rows in the WAL; a live database checkpoints as it goes,
        # so do it now rather than charge the first intakes with it.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    reps_total = assignment.Rep.objects.filter(role="rep").count()
    report.line("setup: reps / historical leads", f"{reps_total} / {Lead.objects.count()}", f"{time.perf_counter() - started:.1f} s")
    AssignmentRules.live()
    client = Client()
    try:
        # DEBUG off as in production (the bench runner sets DEBUG=1, which logs every query).
        with override_settings(DEBUG=False, LEAD_INTAKE_SECRETS=[SECRET], LEAD_API_RATE_LIMIT=(10**6, 60)):
            walls, cpus, reported = [], [], []
            queries = None
            for index in range(WARMUP + INTAKES):
                product, hospital = rng.choice(products), rng.choice(hospitals)
                body = json.dumps({"name": f"基准客户{index}", "phone": f"+86139{index:08d}", "product_model": product.model_number,
                                   "hospital": hospital.name, "source": "website"}).encode()
                headers = signature_headers(SECRET, body)
                if index == WARMUP:
                    with CaptureQueriesContext(connection) as captured:
                        response = client.post("/api/v1/leads", data=body, content_type="application/json", headers=headers)
                    queries = len(captured)
                    continue
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.post("/api/v1/leads", data=body, content_type="application/json", headers=headers)
                wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
                assert response.status_code == 201, response.content
                if index > WARMUP:
                    walls.append(wall)
                    cpus.append(cpu)
                    reported.append(response.json()["assigned_in_ms"])
            assigned = sum(1 for value in reported if value is not None)
            report.line("POST /api/v1/leads wall time p50 / p95", _fmt(walls), f"{len(walls)} signed intakes, Django test client")
            # CPU time of this process (SQLite runs in it): what the wall time would be on an idle
            # machine; on a shared one the wall time also contains waiting for a core.
            report.line("CPU time per intake p50 / p95", _fmt(cpus), f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            report.line("assigned_in_ms reported by the API p50 / p95", _fmt([v for v in reported if v is not None]), f"{assigned}/{len(reported)} assigned")
            report.line("queries per intake (steady state)", str(queries), "incl. history rows, outbox, decision, schedule")

            # The decision alone: loading the roster + workloads (3 queries) and the pure ranking.
            rules = AssignmentRules.live()
            weights = assignment.Weights.of(rules)
            load_times, decide_times = [], []
            for _ in range(200):
                facts = assignment.LeadFacts(rng.choice(["3A", "2A", "private"]), rng.choice(products).line_id)
                t0 = time.perf_counter()
                candidates = assignment.load_candidates()
                t1 = time.perf_counter()
                assignment.decide(candidates, facts, weights, assignment.last_assigned_from_db)
                t2 = time.perf_counter()
                load_times.append((t1 - t0) * 1000)
                decide_times.append((t2 - t1) * 1000)
            report.line("assignment: load roster + open workload p50 / p95", _fmt(load_times), f"{len(candidates)} reps")
            report.line("assignment: score + rank + round robin p50 / p95", _fmt(decide_times), "pure Python, incl. tie query")

        # The yardstick: one ORM insert, and a minimal view that inserts one row.
        orm_times = []
        for _ in range(WARMUP + 200):
            t0 = time.perf_counter()
            WebhookReceipt.objects.create(endpoint="bench", key=uuid.uuid4().hex, status_code=201, response={})
            orm_times.append((time.perf_counter() - t0) * 1000)
        orm_times = orm_times[WARMUP:]
        report.line("direct ORM single-row insert p50 / p95", _fmt(orm_times))
        trivial, trivial_cpu = [], []
        with override_settings(DEBUG=False, ROOT_URLCONF=_trivial_urlconf()):
            for index in range(WARMUP + INTAKES):
                t0, c0 = time.perf_counter(), time.process_time()
                response = client.post("/trivial", data=b"{}", content_type="application/json")
                wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
                if index >= WARMUP:
                    trivial.append(wall)
                    trivial_cpu.append(cpu)
        report.line("trivial view inserting one row p50 / p95", _fmt(trivial), "throwaway URLconf, same client and middleware")
        report.line("trivial view CPU time p50 / p95", _fmt(trivial_cpu))
        report.line(
            "ratio intake / trivial view (p50, p95)",
            f"{statistics.median(walls) / statistics.median(trivial):.1f}× / {_pct(walls, 0.95) / _pct(trivial, 0.95):.1f}×",
            "wall time",
        )
        report.line(
            "ratio intake / trivial view, CPU time (p50, p95)",
            f"{statistics.median(cpus) / statistics.median(trivial_cpu):.1f}× / {_pct(cpus, 0.95) / _pct(trivial_cpu, 0.95):.1f}×",
        )
    finally:
        WebhookReceipt.objects.filter(endpoint__in=["bench", "leads"]).delete()
        _cleanup(users, first_lead_pk)
