"""Dashboards figures (D1/D2/D4) on a generated company: 50 teams, 500 reps, 5,000 customers and
2,000,000 activities over 400 days (≈10 actions per rep per day, 44 % evidence-backed), with leads,
quotes, deals, receivables and payments at a matching daily rate.

The board's fragments are measured twice: on the last 4 days of that history (1 % of the
activities, 20,000 rows) and on the whole 400 days. Each day looks the same, so "today" holds as
many rows in both — what grows is the history the board must not pay for.
Also measured: the three KPIs for a team over a quarter (value, per-rep breakdown, daily trend),
the KPI page, the morning anomaly evaluation and the daily report.

Run: `make bench BENCH_ARGS=bench_dashboards` (SQLite), or with DATABASE_URL for PostgreSQL.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEAMS, REPS_PER_TEAM, CUSTOMERS_PER_TEAM = 50, 10, 100
DAYS, SMALL_DAYS = 400, 4
ACTIONS_PER_REP_DAY = 10
LEADS_PER_DAY, QUOTES_PER_DAY, DEALS_PER_DAY = 100, 30, 30
# kind, weight (per 10 actions a day)
KIND_MIX = [
    ("photo", 2.0), ("document", 0.9), ("signature", 0.6), ("voice_memo", 0.5), ("approval", 0.4),
    ("call", 2.6), ("visit_completed", 1.0), ("needs_captured", 0.8), ("quote_sent", 0.5), ("lead_introduced", 0.4),
    ("payment_recorded", 0.3),
]
RUNS = 40


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


class Company:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.rng = random.Random(500)
        self.today = now.astimezone(SHANGHAI).date()

    def build(self) -> None:
        from django.contrib.auth import get_user_model

        from dashboards.models import TvScreen
        from salesops.models import Customer, Hospital, Rep, Role, Team

        User = get_user_model()
        with transaction.atomic():
            teams = Team.objects.bulk_create([Team(name=f"bench-团队{t:02d}", region="杭州") for t in range(TEAMS)])
            supervisors = User.objects.bulk_create(
                [User(username=f"bench-sup{t:02d}", first_name=f"主管{t:02d}", password="!") for t in range(TEAMS)]
            )
            reps = User.objects.bulk_create(
                [User(username=f"bench-rep{i:03d}", first_name=f"销售{i:03d}", password="!") for i in range(TEAMS * REPS_PER_TEAM)]
            )
            Rep.objects.bulk_create(
                [Rep(user=s, role=Role.SUPERVISOR, team=teams[t], grades_served=["3A"]) for t, s in enumerate(supervisors)]
                + [Rep(user=u, role=Role.REP, team=teams[i // REPS_PER_TEAM], grades_served=["3A"]) for i, u in enumerate(reps)]
            )
            for team, supervisor in zip(teams, supervisors):
                team.supervisor = supervisor
                team.save()
            hospitals = Hospital.objects.bulk_create(
                [Hospital(name=f"bench-医院{h:03d}", grade="3A", city="杭州") for h in range(TEAMS * 10)]
            )
            customers = Customer.objects.bulk_create(
                [
                    Customer(hospital=hospitals[c // 10], name=f"bench-客户{c:04d}", owner=reps[(c // CUSTOMERS_PER_TEAM) * REPS_PER_TEAM + c % REPS_PER_TEAM])
                    for c in range(TEAMS * CUSTOMERS_PER_TEAM)
                ]
            )
            self.screen = TvScreen.objects.create(name="bench-大屏")
        self.teams = teams
        self.reps = reps
        self.team_of = {u.pk: teams[i // REPS_PER_TEAM].pk for i, u in enumerate(reps)}
        self.customers = [(c.pk, c.hospital_id) for c in customers]

    def _moment(self, day: date, rng: random.Random) -> datetime:
        start = datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)
        moment = start + timedelta(hours=8, seconds=rng.randrange(11 * 3600))
        return min(moment, self.now - timedelta(seconds=rng.randrange(1, 600))) if day == self.today else moment

    def add_days(self, first_offset: int, last_offset: int) -> int:
        """History for the days today-first_offset … today-last_offset (inclusive), oldest first."""
        from salesops.models import Activity

        table = Activity._meta.db_table
        facts = Activity._meta.get_field("facts").get_db_prep_save({}, connection)
        adapt = connection.ops.adapt_datetimefield_value
        kinds = [k for k, _w in KIND_MIX]
        weights = [w for _k, w in KIND_MIX]
        rows, inserted = [], 0
        sql = (
            f"INSERT INTO {table} (rep_id, team_id, customer_id, kind, occurred_at, recorded_at, subject_type_id, subject_id, facts) "
            "VALUES (%s, %s, %s, %s, %s, %s, NULL, '', %s)"
        )
        for offset in range(first_offset, last_offset - 1, -1):
            day = self.today - timedelta(days=offset)
            rng = random.Random(f"bench-{day.isoformat()}")
            for index, rep in enumerate(self.reps):
                team_index = index // REPS_PER_TEAM
                for kind in rng.choices(kinds, weights, k=ACTIONS_PER_REP_DAY):
                    customer = self.customers[team_index * CUSTOMERS_PER_TEAM + rng.randrange(CUSTOMERS_PER_TEAM)][0]
                    moment = adapt(self._moment(day, rng))
                    rows.append((rep.pk, self.team_of[rep.pk], customer, kind, moment, moment, facts))
            if len(rows) >= 50_000 or offset == last_offset:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.executemany(sql, rows)
                inserted += len(rows)
                rows = []
            self._records(day, rng)
        return inserted

    def _records(self, day: date, rng: random.Random) -> None:
        from leads.cash.models import Deal, Payment, Quote, QuoteVersion, Receivable
        from leads.models import Lead

        age = (self.today - day).days
        leads = []
        for n in range(LEADS_PER_DAY):
            rep = rng.choice(self.reps)
            customer, hospital = rng.choice(self.customers)
            assigned = self._moment(day, rng)
            contacted = assigned + timedelta(minutes=rng.randrange(5, 400))
            if age <= 2:
                status, last = rng.choice([("assigned", None), ("acknowledged", None), ("contacted", contacted)])
            else:
                status, last = (rng.choice(["acknowledged", "assigned"]), None) if rng.random() < 0.01 else ("converted", contacted)
            contacted = contacted if last else None
            if contacted and contacted > self.now:
                contacted = last = None
            leads.append(
                Lead(contact_name=f"客户{day:%m%d}{n}", phone=f"+8613{rng.randrange(10**9):09d}", customer_id=customer, hospital_id=hospital,
                     assignee=rep, status=status, created_at=assigned, assigned_at=assigned, first_effective_contact_at=contacted, last_contact_at=last)
            )
        Lead.objects.bulk_create(leads, batch_size=1000)
        quotes = [
            Quote(number=f"BQ{day:%Y%m%d}{n:03d}", customer_id=rng.choice(self.customers)[0], rep=rng.choice(self.reps), created_at=self._moment(day, rng))
            for n in range(QUOTES_PER_DAY)
        ]
        Quote.objects.bulk_create(quotes)
        versions = []
        for quote in quotes:
            status = "sent" if age <= 3 or rng.random() < 0.02 else rng.choice(["confirmed", "rejected", "expired"])
            versions.append(QuoteVersion(quote=quote, version=1, status=status, total=Decimal(rng.randrange(5_000, 500_000)), sent_at=quote.created_at))
        QuoteVersion.objects.bulk_create(versions)
        deals = []
        for _n in range(DEALS_PER_DAY):
            customer, hospital = rng.choice(self.customers)
            deals.append(Deal(customer_id=customer, hospital_id=hospital, owner=rng.choice(self.reps), status="won" if rng.random() < 0.85 else "lost",
                              amount=Decimal(rng.randrange(10_000, 800_000)), product_summary="AK-HIP-01 ×2, SP-PED-01", closed_at=self._moment(day, rng)))
        Deal.objects.bulk_create(deals)
        receivables, paid_parts = [], []
        for deal in deals:
            half = (deal.amount / 2).quantize(Decimal("0.01"))
            share = min(1.0, age / 120) if deal.status == "won" else 0
            for sequence, due in ((1, half), (2, deal.amount - half)):
                paid = (due * Decimal(str(round(min(1.0, share * rng.uniform(0.8, 1.3)), 2)))).quantize(Decimal("0.01"))
                receivables.append(Receivable(deal=deal, sequence=sequence, amount=due, due_date=day + timedelta(days=90), paid_amount=paid))
                paid_parts.append(paid)
        Receivable.objects.bulk_create(receivables)
        Payment.objects.bulk_create(
            [Payment(receivable=r, amount=p, received_on=day, recorded_by=r.deal.owner, pushed_by=r.deal.owner, recorded_at=r.deal.closed_at)
             for r, p in zip(receivables, paid_parts) if p]
        )


def _measure_fragments(client: Client, screen) -> dict:
    from dashboards.board import ZONES

    results = {}
    for zone in ZONES:
        url = f"/board/{screen.token}/?zone={zone}"
        client.get(url, headers={"HX-Request": "true"})  # warm caches
        timings = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.get(url, headers={"HX-Request": "true"})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as captured:
            client.get(url, headers={"HX-Request": "true"})
        p50, p95 = _percentiles(timings)
        results[zone] = (p50, p95, len(captured))
    return results


def _timed(function, runs: int = 5) -> tuple[str, object]:
    """"cold / warm ms": the first run (nothing cached) and the median of the others (settled
    periods and deal involvement read from the cache)."""
    from dashboards.kpis import kpi_cache

    kpi_cache().clear()
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        timings.append((time.perf_counter() - started) * 1000)
    return f"{timings[0]:.0f} / {statistics.median(timings[1:]):.0f} ms", result


def run(report) -> None:
    import time_machine

    from dashboards.anomalies import evaluate_anomalies
    from dashboards.kpis import Scope, kpi_breakdown, measure
    from dashboards.models import Kpi, ReportKind
    from dashboards.periods import Period, day_start
    from dashboards.reports import report_generate

    report.section(f"dashboards — {TEAMS * REPS_PER_TEAM} reps, {DAYS * TEAMS * REPS_PER_TEAM * ACTIONS_PER_REP_DAY:,} activities")
    now = datetime.combine(date.today(), datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=17)
    with time_machine.travel(now, tick=True):
        company = Company(now)
        started = time.perf_counter()
        company.build()
        small_rows = company.add_days(SMALL_DAYS - 1, 0)
        report.line("generate 1 % (last 4 days)", f"{time.perf_counter() - started:.1f} s", f"{small_rows:,} activities")
        client = Client()
        small = _measure_fragments(client, company.screen)

        started = time.perf_counter()
        big_rows = company.add_days(DAYS - 1, SMALL_DAYS)
        report.line("generate the other 396 days", f"{time.perf_counter() - started:.1f} s", f"{big_rows:,} activities")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        report.line("ANALYZE", f"{time.perf_counter() - started:.1f} s")
        full = _measure_fragments(client, company.screen)

        for zone in small:
            s50, s95, sq = small[zone]
            f50, f95, fq = full[zone]
            report.line(f"board fragment {zone}: p50 / p95, 1 % data", f"{s50:.1f} / {s95:.1f} ms", f"{sq} queries")
            report.line(f"board fragment {zone}: p50 / p95, full data", f"{f50:.1f} / {f95:.1f} ms",
                        f"{fq} queries; p95 ×{f95 / s95:.2f} of 1 %; target < 50 ms, ≤ ×1.5")

        team = Scope.team(company.teams[0].pk)
        quarter_end = day_start(company.today)
        span = [(quarter_end - timedelta(days=91), quarter_end)]
        keys = [u.pk for u in company.reps[:REPS_PER_TEAM]]
        for kpi in Kpi.values:
            ms, cells = _timed(lambda kpi=kpi: measure(kpi, span, team)[None][0])
            report.line(f"team-quarter {kpi} (cold / warm)", ms, f"value {cells.value}, n {cells.n}")
        ms, _result = _timed(lambda: kpi_breakdown(team, Period("day", company.today - timedelta(days=91), company.today), "rep", keys))
        report.line("team-quarter, all 3 KPIs per rep (cold / warm)", ms)
        days = [(day_start(company.today - timedelta(days=i)), day_start(company.today - timedelta(days=i - 1))) for i in range(91, 0, -1)]
        ms, _result = _timed(lambda: [measure(kpi, days, team) for kpi in Kpi.values])
        report.line("team-quarter, all 3 KPIs as a 91-day trend (cold / warm)", ms)

        director = _director()
        page = Client()
        page.force_login(director)
        for label, url in (("KPI page, company by week (director)", "/kpis/?period=week"),
                           ("KPI page, company by month (director)", "/kpis/?period=month"),
                           ("KPI page, one team by month", f"/kpis/?period=month&team={company.teams[0].pk}")):
            ms, _r = _timed(lambda url=url: page.get(url), runs=3)
            with CaptureQueriesContext(connection) as captured:
                page.get(url)
            report.line(f"{label} (cold / warm)", ms, f"{len(captured)} queries warm")

        started = time.perf_counter()
        opened = evaluate_anomalies()
        report.line("morning anomaly evaluation (all rules, 550 people)", f"{(time.perf_counter() - started) * 1000:.0f} ms", f"{len(opened)} tasks opened")
        started = time.perf_counter()
        again = evaluate_anomalies()
        report.line("… evaluated again (idempotent)", f"{(time.perf_counter() - started) * 1000:.0f} ms", f"{len(again)} tasks opened")
        started = time.perf_counter()
        report_generate(kind=ReportKind.DAILY, day=company.today - timedelta(days=1))
        report.line("daily report with PDF (550 people)", f"{(time.perf_counter() - started) * 1000:.0f} ms")
        started = time.perf_counter()
        report_generate(kind=ReportKind.WEEKLY, day=company.today - timedelta(days=7))
        report.line("weekly report with PDF", f"{(time.perf_counter() - started) * 1000:.0f} ms")
    reset_queries()


def _director():
    from django.contrib.auth import get_user_model

    from salesops.models import Rep, Role

    User = get_user_model()
    user, created = User.objects.get_or_create(username="bench-director", defaults={"first_name": "总监", "password": "!"})
    if created:
        Rep.objects.create(user=user, role=Role.DIRECTOR, grades_served=[])
    return user
