"""Scoring figures: deriving a quarter of points for the demo-sized company (47 reps × 60 working
days × ~5 actions), the every-minute sweep when nothing is new, splitting won deals, and the
collaboration board's render time and query count."""

from __future__ import annotations

import io
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def _render(client, url: str, runs: int = 20) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)], len(queries)


def _quarter_of_activity(ctx, rng: random.Random, quarter_start) -> int:
    """~5 actions per rep per working day over 60 working days, appended in bulk (no subject
    rows: the bench measures scoring, not the other apps' writers)."""
    from salesops.models import Activity, ActivityKind

    customers_by_team: dict[int, list] = {}
    for customer in ctx.customers:
        team_id = customer.owner.rep.team_id if customer.owner_id else None
        customers_by_team.setdefault(team_id, []).append(customer)
    all_customers = ctx.customers
    days = []
    day = quarter_start
    while len(days) < 60:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    kinds = (
        [ActivityKind.LEAD_INTRODUCED] * 3
        + [ActivityKind.VISIT_COMPLETED] * 9
        + [ActivityKind.PAYMENT_RECORDED] * 2
        + [ActivityKind.CALL] * 4
        + [ActivityKind.PHOTO] * 2
    )
    rows = []
    for user in ctx.reps:
        own = customers_by_team.get(user.rep.team_id) or all_customers
        for day in days:
            for _ in range(rng.choice((4, 5, 5, 6))):
                kind = rng.choice(kinds)
                facts = {}
                if kind == ActivityKind.VISIT_COMPLETED:
                    facts = {
                        "needs_count": rng.choice((0, 2, 3, 3)),
                        "is_solution_demo": rng.random() < 0.25,
                        "contact_title": rng.choice(("主任", "主任", "医生", "院长", "副院长")),
                        "template_code": "medical",
                        "onsite": True,
                    }
                customer = rng.choice(own if rng.random() < 0.85 else all_customers)
                at = day.replace(hour=rng.randrange(8, 20), minute=rng.randrange(60))
                rows.append(
                    Activity(rep=user, team_id=user.rep.team_id, customer=customer, kind=kind, occurred_at=at, facts=facts)
                )
    Activity.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def run(report) -> None:
    from django.test import Client
    from django.utils import timezone

    from leads.cash.models import Deal, DealStatus
    from salesops.demo import DemoContext, seed_master_data
    from scoring.defaults import install_defaults
    from scoring.derivation import ledger_differences, points_derive
    from scoring.models import BonusPolicy, Contribution, ContributionRule
    from scoring.periods import quarter_of
    from scoring.services import splits_create_missing

    report.section("scoring")
    ctx = DemoContext(rng=random.Random(2026), stdout=io.StringIO())
    seed_master_data(ctx)
    install_defaults(ContributionRule, BonusPolicy)
    rng = random.Random(6)
    now = timezone.now()
    quarter = quarter_of(now)
    # A full quarter of history: the 60 working days before today.
    start = timezone.localtime(now - timedelta(days=86)).replace(hour=0, minute=0, second=0, microsecond=0)
    appended, seconds = _timed(_quarter_of_activity, ctx, rng, start)
    report.line("ledger: activities appended (47 reps × 60 days × ~5)", f"{appended}", f"{seconds:.1f} s bulk insert")

    derived, seconds = _timed(points_derive)
    report.line("recompute a quarter of points from scratch", f"{seconds:.2f} s", f"{derived} contributions")
    again, seconds = _timed(points_derive)
    report.line("every-minute sweep, nothing new (derivation part)", f"{seconds * 1000:.0f} ms", f"{again} added")
    differences, seconds = _timed(ledger_differences)
    report.line(
        "verify: stored points vs from-scratch derivation",
        f"{seconds:.2f} s",
        "identical" if not any(differences.values()) else f"DIFFERENT {[(k, len(v)) for k, v in differences.items()]}",
    )

    deal_customers = rng.sample(ctx.customers, 150)
    for customer in deal_customers:
        Deal.objects.create(
            customer=customer,
            hospital=customer.hospital,
            owner=customer.owner or ctx.reps[0],
            amount=Decimal(rng.randrange(20_000, 900_000)),
            status=DealStatus.WON,
            closed_at=now - timedelta(days=rng.randrange(1, 80), hours=rng.randrange(24)),
        )
    created, seconds = _timed(splits_create_missing)
    report.line("split won deals (150 deals)", f"{seconds:.2f} s", f"{seconds / max(created, 1) * 1000:.0f} ms per split")

    rep = ctx.reps[0]
    client = Client()
    client.force_login(rep)
    in_quarter = Contribution.objects.between(quarter.start, quarter.end).count()
    p50, p95, queries = _render(client, "/scoring/board/")
    report.line("GET /scoring/board/ as a rep (p50 / p95)", f"{p50:.0f} / {p95:.0f} ms", f"{queries} queries, {in_quarter} contributions this quarter")
    report.line("GET /scoring/board/ page size (D11: ≤ 60 KB)", f"{len(client.get('/scoring/board/').content) / 1024:.1f} KB")
    p50, p95, queries = _render(client, "/scoring/")
    report.line("GET /scoring/ 我的贡献值 (p50 / p95)", f"{p50:.0f} / {p95:.0f} ms", f"{queries} queries")
    p50, p95, queries = _render(client, "/scoring/statement/")
    report.line("GET /scoring/statement/ (p50 / p95)", f"{p50:.0f} / {p95:.0f} ms", f"{queries} queries")
    client.force_login(ctx.supervisors[0])
    p50, p95, queries = _render(client, "/scoring/team/", runs=10)
    report.line("GET /scoring/team/ as a supervisor (p50 / p95)", f"{p50:.0f} / {p95:.0f} ms", f"{queries} queries")
