"""Speed at scale (K1–K5): the same pages, the intake and the idle sweeps at 10k, 100k and 1M leads
(2 activities per lead), side by side, with query counts, the ratio to a trivial one-row-insert
view measured in the same run, and a flat-or-not verdict per row (1M within 1.5x of 10k).

Run: `make bench BENCH_ARGS=bench_scale` (`SCALE_SIZES=10000,100000` to stop earlier). Rows are
generated with set-based SQL (a recursive CTE), not the ORM, so 1M leads load in minutes, and
are left in the throwaway bench database.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import time
import types
import uuid

SIZES = [int(size) for size in os.environ.get("SCALE_SIZES", "10000,100000,1000000").split(",") if size]
REPS, TEAMS, HOSPITALS = 500, 10, 2000
WARMUP, RUNS = 5, 30
SECRET = "whsec_" + base64.b64encode(b"bench-scale-secret-key-0123456789").decode()


def _users():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from salesops.models import Hospital, HospitalGrade, ProductLine, Rep, Role, Team

    User = get_user_model()
    password = make_password(None)
    teams = [Team.objects.get_or_create(name=f"规模团队{index}")[0] for index in range(TEAMS)]
    line, _ = ProductLine.objects.get_or_create(code="scale", defaults={"name": "规模线"})
    existing = set(Hospital.objects.filter(name__startswith="规模医院").values_list("name", flat=True))
    Hospital.objects.bulk_create(
        [Hospital(name=f"规模医院{index}号", grade=HospitalGrade.GRADE_3A, city=f"城市{index % 20}") for index in range(HOSPITALS) if f"规模医院{index}号" not in existing]
    )
    if not User.objects.filter(username="scale_director").exists():
        director = User.objects.create(username="scale_director", password=password)
        Rep.objects.create(user=director, role=Role.DIRECTOR, team=None)
        for index, team in enumerate(teams):
            supervisor = User.objects.create(username=f"scale_sup_{index}", password=password)
            Rep.objects.create(user=supervisor, role=Role.SUPERVISOR, team=team)
            team.supervisor = supervisor
            team.save()
        users = User.objects.bulk_create([User(username=f"scale_rep_{index:03d}", first_name=f"规模{index}", password=password) for index in range(REPS)])
        users = list(User.objects.filter(username__startswith="scale_rep_").order_by("pk"))
        reps = Rep.objects.bulk_create(
            [Rep(user=user, role=Role.REP, team=teams[index % TEAMS], grades_served=["3A"], capacity=10_000, on_duty=True) for index, user in enumerate(users)]
        )
        Rep.product_lines.through.objects.bulk_create([Rep.product_lines.through(rep_id=rep.pk, productline_id=line.pk) for rep in reps])
    rep_ids = list(User.objects.filter(username__startswith="scale_rep_").order_by("pk").values_list("pk", flat=True))
    return User.objects.get(username="scale_director"), User.objects.get(username="scale_sup_0"), User.objects.get(pk=rep_ids[0]), rep_ids


def _grow(total: int, rep_ids: list[int]) -> float:
    """Add leads (and two activities each) until there are `total` leads: set-based SQL."""
    from django.db import connection

    from leads.models import Lead

    have = Lead.objects.count()
    if have >= total:
        return 0.0
    started = time.perf_counter()
    first_rep, reps = min(rep_ids), len(rep_ids)
    chunk = 200_000
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM salesops_hospital WHERE name LIKE '规模医院%%'")
        first_hospital = cursor.fetchone()[0]
        cursor.execute("SELECT min(id) FROM auth_user WHERE username LIKE 'scale_rep_%%'")
        for start in range(have, total, chunk):
            end = min(total, start + chunk)
            # Mostly closed history, a few percent open; created over ~2 years, newest last.
            now_sql = "CURRENT_TIMESTAMP" if connection.vendor == "sqlite" else "now()"
            created = (
                f"datetime('now', '-' || (({total} - x) * 60) || ' seconds')"
                if connection.vendor == "sqlite"
                else f"now() - make_interval(secs => ({total} - x) * 60)"
            )
            # Closed before the sweep's settle window: history, not a change the idle sweep must read.
            created_long_ago = (
                f"datetime('now', '-' || (({total} - x) * 60 + 86400) || ' seconds')"
                if connection.vendor == "sqlite"
                else f"now() - make_interval(secs => ({total} - x) * 60 + 86400)"
            )
            phone = "substr('00000000' || x, -8, 8)" if connection.vendor == "sqlite" else "lpad(x::text, 8, '0')"
            cursor.execute(
                f"""
                WITH RECURSIVE c(x) AS (SELECT {start + 1} UNION ALL SELECT x + 1 FROM c WHERE x < {end})
                INSERT INTO leads_lead (contact_name, phone, product_model, hospital_name, hospital_grade, source, note,
                    status, assignee_id, hospital_id, created_at, assigned_at, first_assigned_at, acknowledged_via,
                    repeat_count, close_reason, unassigned_reason, closed_at)
                SELECT '客户' || x || '号', '+86139' || {phone}, '', '规模医院' || (x % {HOSPITALS}) || '号', '3A', 'website', '',
                    CASE WHEN x % 100 < 2 THEN 'assigned' WHEN x % 100 < 4 THEN 'acknowledged' WHEN x % 100 < 6 THEN 'contacted'
                         WHEN x % 100 < 60 THEN 'closed' ELSE 'converted' END,
                    {first_rep} + (x % {reps}), {first_hospital} + (x % {HOSPITALS}), {created}, {created}, {created}, '',
                    0, '', '', CASE WHEN x % 100 >= 6 THEN {created_long_ago} END
                FROM c
                """
            )
            cursor.execute(
                f"""
                WITH RECURSIVE c(x) AS (SELECT {2 * start + 1} UNION ALL SELECT x + 1 FROM c WHERE x < {2 * end})
                INSERT INTO salesops_activity (rep_id, kind, occurred_at, recorded_at, subject_id, facts)
                SELECT {first_rep} + (x % {reps}), 'photo', {now_sql}, {now_sql}, '', '{{}}' FROM c
                """
            )
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _trivial_urlconf():
    from django.http import JsonResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    from leads.models import WebhookReceipt

    @csrf_exempt
    def insert_one(request):
        row = WebhookReceipt.objects.create(endpoint="bench", key=uuid.uuid4().hex, status_code=201, response={})
        return JsonResponse({"id": row.pk}, status=201)

    module = types.ModuleType("bench_scale_urls")
    module.urlpatterns = [path("trivial", insert_one), path("", include("salesops.urls"))]
    return module


def _measure(call) -> tuple[float, int, int]:
    """p50 ms, queries, bytes of one call (after warm-up)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = call()
    size = len(getattr(response, "content", b"") or b"")
    return statistics.median(times), len(queries.captured_queries), size


def run(report) -> None:
    from django.test import Client, override_settings

    from salesops.integrations.webhooks import signature_headers
    from scoring.services import scoring_sweep

    report.section("speed at scale (K1–K5): p50 ms [queries] per size; ratio = p50 / trivial insert view")
    director, supervisor, rep, rep_ids = _users()
    clients = {}
    for name, user in (("director", director), ("supervisor", supervisor), ("rep", rep)):
        clients[name] = Client()
        clients[name].force_login(user)
    intake_client = Client()
    counter = iter(range(10**9))

    def intake():
        number = next(counter)
        body = json.dumps({"name": "规模客户", "phone": f"1370{number:07d}", "hospital": "规模医院7号", "hospital_grade": "3A", "source": "website"}, ensure_ascii=False).encode()
        return intake_client.post("/api/v1/leads", data=body, content_type="application/json", headers=signature_headers(SECRET, body))

    rows = {
        "K1 lead list, all states, page 1 (director)": lambda: clients["director"].get("/leads/team/?state=all"),
        "K1 lead list, all states, page 1 (supervisor)": lambda: clients["supervisor"].get("/leads/team/?state=all"),
        "K1 lead list as it opens (open, supervisor)": lambda: clients["supervisor"].get("/leads/team/"),
        "K1 lead list, page 20 (director)": lambda: clients["director"].get("/leads/team/?state=all&page=20"),
        "K1 my leads (rep)": lambda: clients["rep"].get("/leads/?state=all"),
        "K1 lead list filtered by owner": lambda: clients["director"].get(f"/leads/team/?state=all&rep={rep_ids[3]}"),
        "K2 lead list, text search (3 chars)": lambda: clients["director"].get("/leads/team/?state=all&q=医院77"),
        "K2 lead list, phone digits": lambda: clients["director"].get("/leads/team/?state=all&q=00012345"),
        "K2 hospital list search": lambda: clients["director"].get("/hospitals/?q=医院12"),
        "K3 signed intake, assigned": intake,
        "K4 scoring sweep, idle": lambda: scoring_sweep(),
        "trivial one-row-insert view": lambda: intake_client.post("/trivial"),
    }
    results: dict[str, dict[int, tuple[float, int, int]]] = {name: {} for name in rows}
    with override_settings(DEBUG=False, LEAD_INTAKE_SECRETS=[SECRET], ROOT_URLCONF=_trivial_urlconf(), ALLOWED_HOSTS=["*"]):
        for size in SIZES:
            seconds = _grow(size, rep_ids)
            report.line(f"generated {size:,} leads / {2 * size:,} activities", f"{seconds:.1f} s")
            scoring_sweep()  # the first sweep reads everything once; the cursor then moves on
            from datetime import timedelta

            import time_machine

            # The sweep's cursor passes rows only once they are older than its settle margin.
            with time_machine.travel(timedelta(minutes=3), tick=True):
                scoring_sweep()
                for name, call in rows.items():
                    results[name][size] = _measure(call)
            _table(results, [done for done in SIZES if done <= size], report)  # partial tables: 1M takes long


def _table(results, sizes: list[int], report) -> None:
    trivial = results["trivial one-row-insert view"]
    header = " | ".join(f"{size:>9,}" for size in sizes)
    print(f"\n  | {'row':<48} | {header} | queries | KB | ratio | flat |", flush=True)
    for name, by_size in results.items():
        cells = " | ".join(f"{by_size[size][0]:8.1f}ms" for size in sizes)
        first, last = by_size[sizes[0]][0], by_size[sizes[-1]][0]
        flat = "yes" if last <= 1.5 * max(first, 1.0) else "NO"
        ratio = last / trivial[sizes[-1]][0]
        queries = by_size[sizes[-1]][1]
        kb = by_size[sizes[-1]][2] / 1024
        print(f"  | {name:<48} | {cells} | {queries:>7} | {kb:5.1f} | {ratio:5.1f} | {flat} |", flush=True)
        if sizes[-1] == SIZES[-1]:
            report.rows.append((name, cells, f"q={queries} ratio={ratio:.1f} flat={flat}"))
