"""Lead-to-cash figures: quote PDF render time (CID and embedded TTF) and a 5,000-row bank
statement import with matching against 1,200 open receivables (plus the re-import of the same
file, all duplicates, and the review queue page on top of it)."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

WQY = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    return f"{statistics.median(samples):.1f} / {samples[max(0, int(len(samples) * 0.95) - 1)]:.1f} ms"


def _master():
    from django.contrib.auth import get_user_model

    from salesops.models import Customer, Department, Hospital, Product, ProductLine, Rep, Role, Team

    User = get_user_model()
    team, _ = Team.objects.get_or_create(name="基准测试组")
    user, _ = User.objects.get_or_create(username="bench-rep", defaults={"first_name": "基准销售"})
    Rep.objects.get_or_create(user=user, defaults={"role": Role.REP, "team": team})
    finance, _ = User.objects.get_or_create(username="bench-finance", defaults={"first_name": "财务", "is_superuser": True})
    Rep.objects.get_or_create(user=finance, defaults={"role": Role.OPS})
    line, _ = ProductLine.objects.get_or_create(code="bench", defaults={"name": "基准产品线"})
    products = [
        Product.objects.get_or_create(model_number=f"BN-{n:03d}", defaults={"name": f"基准产品{n}号（骨科耗材）", "line": line, "list_price": Decimal(980 + n * 731)})[0]
        for n in range(12)
    ]
    customers = []
    for n in range(240):
        hospital, _ = Hospital.objects.get_or_create(name=f"浙江省基准第{n}人民医院", defaults={"grade": "3A", "city": "杭州"})
        department, _ = Department.objects.get_or_create(hospital=hospital, name="骨科")
        customer, _ = Customer.objects.get_or_create(hospital=hospital, name=f"浙江省基准第{n}人民医院 骨科", defaults={"department": department, "owner": user})
        customers.append(customer)
    return user, finance, products, customers


def _pdf(report, user, products, customers) -> None:
    from django.conf import settings

    from leads.cash import quotes
    from leads.cash.pdf import quote_pdf

    quote = quotes.quote_create(customer=customers[0], by=user)
    version = quote.latest_version()
    for index, product in enumerate(products[:10]):
        quotes.quote_line_add(version=version, product=product, by=user, quantity=index + 1, discount_percent=Decimal(index % 4))
    quotes.quote_version_send(version=version, by=user)
    version.refresh_from_db()
    for label, font in (("CID STSong-Light", ""), ("embedded TTF (WenQuanYi)", WQY if Path(WQY).exists() else "")):
        settings.PDF_TTF_FONT = font
        quote_pdf(version)  # warm up: font registration, URLconf
        samples, size = [], 0
        for _ in range(20):
            started = time.perf_counter()
            size = len(quote_pdf(version))
            samples.append((time.perf_counter() - started) * 1000)
        report.line(f"quote PDF, 10 lines, {label} (p50 / p95)", _ms(samples), f"{size / 1024:.0f} KiB")
    settings.PDF_TTF_FONT = ""


def _receivables(user, customers, rng) -> list:
    """1,200 open instalments on 600 won deals (bulk: the set-up is not what is measured)."""
    from django.utils import timezone

    from leads.cash.models import Deal, DealStatus, Receivable

    today = timezone.localdate()
    deals = Deal.objects.bulk_create(
        [
            Deal(
                number=f"HT209901-{n:04d}",
                customer=customers[n % len(customers)],
                hospital_id=customers[n % len(customers)].hospital_id,
                owner=user,
                status=DealStatus.WON,
                amount=Decimal(rng.randrange(500_000, 20_000_000)) / 100 * 2,
                closed_at=timezone.now() - timedelta(days=rng.randrange(10, 200)),
            )
            for n in range(600)
        ]
    )
    receivables = []
    for deal in deals:
        half = (deal.amount / 2).quantize(Decimal("0.01"))
        receivables += [
            Receivable(deal=deal, sequence=1, amount=half, due_date=today - timedelta(days=rng.randrange(0, 90))),
            Receivable(deal=deal, sequence=2, amount=deal.amount - half, due_date=today + timedelta(days=rng.randrange(0, 90))),
        ]
    return Receivable.objects.bulk_create(receivables)


def _statement_lines(receivables, rng):
    from django.utils import timezone

    from tests.cash.statement_files import Line

    today = timezone.localdate()
    by_deal: dict[int, list] = {}
    for receivable in receivables:
        by_deal.setdefault(receivable.deal_id, []).append(receivable)
    hospitals = {r.deal_id: r.deal.hospital.name for r in receivables}
    lines, balance = [], Decimal("5000000.00")
    for n in range(5000):
        kind = n % 10
        receivable = receivables[(n * 7) % len(receivables)]
        payer = hospitals[receivable.deal_id]
        credit = debit = None
        memo, note = "货款", ""
        if kind in (0, 1):  # exact payment from the hospital
            credit = receivable.amount
        elif kind == 2:  # partial
            credit = (receivable.amount * Decimal("0.3")).quantize(Decimal("0.01"))
        elif kind == 3:  # both instalments at once
            credit = sum(r.amount for r in by_deal[receivable.deal_id])
            note = "两期合并"
        elif kind == 4:  # a distributor quoting our contract number
            credit, payer, note = receivable.amount, f"浙江第{n % 50}医药有限公司", f"合同{receivable.deal.number}"
        elif kind in (5, 6):  # unknown payers, random amounts
            credit, payer = Decimal(rng.randrange(100, 10_000_000)) / 100, f"杭州{n % 300}科技有限公司"
        else:  # money out
            debit, payer, memo = Decimal(rng.randrange(100, 500_000)) / 100, f"供应商{n % 200}", "采购付款"
        balance += (credit or 0) - (debit or 0)
        lines.append(
            Line(today - timedelta(days=n % 60), credit=credit, debit=debit, balance=f"{balance:,.2f}", payer=payer,
                 account=f"3301{n:08d}", memo=memo, note=note, reference=f"BENCH{n:06d}")
        )
    return lines


def _statement(report, finance, user, customers) -> None:
    from django.core.files.base import ContentFile
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from leads.cash.bankfiles import PRESETS, parse_statement
    from leads.cash.models import BankAccount, BankStatement, MatchProposal, StatementRow
    from leads.cash.statements import statement_import
    from tests.cash.statement_files import corporate_csv

    rng = random.Random(2026)
    receivables = _receivables(user, customers, rng)
    from leads.cash.models import Receivable

    receivables = list(Receivable.objects.filter(pk__in=[r.pk for r in receivables]).select_related("deal__hospital"))
    data = corporate_csv(_statement_lines(receivables, rng), encoding="gbk")
    account, _ = BankAccount.objects.get_or_create(name="基准工行基本户", defaults={"bank": "generic", "column_map": PRESETS["generic"]["map"]})

    started = time.perf_counter()
    parsed = parse_statement(data, "bench.csv", account.column_map, account.name)
    report.line("parse 5,000-row GBK CSV (no database)", f"{(time.perf_counter() - started) * 1000:.0f} ms", f"{len(data) / 1024:.0f} KiB, {len(parsed.rows)} rows")

    def run(name: str):
        statement = BankStatement(account=account, original_name=name, uploaded_by=finance)
        statement.file.save(name, ContentFile(data), save=True)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            statement = statement_import(statement.pk)
            elapsed = time.perf_counter() - started
        return statement, elapsed, len(queries)

    statement, elapsed, queries = run("bench-1.csv")
    proposals = MatchProposal.objects.filter(row__statement=statement)
    high = proposals.filter(confidence="high").count()
    report.line(
        "import + match 5,000 rows vs 1,200 open receivables",
        f"{elapsed:.2f} s",
        f"{statement.new_rows} new, {proposals.count()} proposals ({high} high), {queries} queries",
    )
    statement, elapsed, queries = run("bench-2.csv")
    report.line("re-import the same file (all duplicates)", f"{elapsed:.2f} s", f"{statement.duplicate_rows} duplicates, {statement.new_rows} new, {queries} queries")

    client = Client()
    client.force_login(finance)
    samples = []
    for _ in range(10):
        started = time.perf_counter()
        client.get("/cash/review/")
        samples.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get("/cash/review/")
    waiting = StatementRow.objects.filter(status__in=["proposed", "review", "partial"]).count()
    report.line("GET /cash/review/ as finance (p50 / p95)", _ms(samples), f"{len(queries)} queries, {waiting} rows waiting")


def _precision(report) -> None:
    """C7: matching precision on the labelled set built from the demo's hospitals."""
    from tests.cash.matching_set import build, measure

    started = time.perf_counter()
    matcher, rows, _hospitals = build()
    result = measure(matcher, rows)
    elapsed = (time.perf_counter() - started) * 1000
    report.line(
        f"matching precision, {result['rows']} labelled rows (top proposal)",
        f"{result['precision'] * 100:.1f} %",
        f"{result['proposed']} proposed, recall {result['recall'] * 100:.1f} %, {elapsed:.0f} ms",
    )
    report.line("matching precision, high-confidence proposals", f"{result['high_precision'] * 100:.1f} %", f"{result['high']} high")
    for kind, (count, right) in result["by_kind"].items():
        report.line(f"  {kind}", f"{right}/{count}")


def run(report) -> None:
    report.section("lead to cash")
    _precision(report)
    user, finance, products, customers = _master()
    _pdf(report, user, products, customers)
    _statement(report, finance, user, customers)
