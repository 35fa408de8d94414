"""Demo lead-to-cash history (A5), built through the real services with times in the past:
quotes (some sent and unconfirmed > 72 h — the board's yellow light), won deals over the last four
months touched by several reps, receivables and payments (several deals ≥ 90 % paid — green; some
overdue), a few lost deals, discount approvals, and a GBK bank statement whose proposals wait in
the review queue. Two won deals in two consecutive complete weeks went to new departments that only
their owner worked (a 浙中西组 rep opened 手足外科 / 小儿骨科 alone): the dashboards' 协同密度 rule
finds its 交叉带教 run. They are dedicated customers, not in `ctx.customers`, so the lead and visit
demos (which only work on `ctx.customers`) never touch them.

Deterministic (its own seeded RNG, customers taken in a fixed order) and idempotent: the demo bank
account is created last in one transaction, so its presence means "already seeded".
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from salesops.models import Contact, ContactTitle, Customer, Department, Product, Role

from . import deals, quotes
from .bankfiles import PRESETS
from .models import BankAccount, BankStatement, LostReason, Receivable
from .statements import statement_import

DEMO_ACCOUNT = "工行基本户（演示）"
DEMO_ACCOUNT_NUMBER = "1202 0260 0920 0123 456"
WON, LOST, OPEN_SENT, DRAFT = "won", "lost", "sent", "draft"
SOLO_TEAM = "浙中西组"
SOLO_DEPARTMENTS = ("手足外科", "小儿骨科")  # one per week, oldest first
SOLO_NOTE = "新开科室，由负责人单独跟进"


def seed(ctx) -> None:
    if BankAccount.objects.filter(name=DEMO_ACCOUNT).exists():
        ctx.say("报价与回款：演示数据已存在，跳过。")
        return
    with transaction.atomic():
        summary = _seed(ctx)
    ctx.say(
        "报价与回款：{quotes} 份报价，{won} 个赢单（其中 {solo} 个仅负责人跟进），{lost} 个丢单，{payments} 笔回款，"
        "银行流水 {rows} 行（{proposals} 条匹配建议待确认）".format(**summary)
    )


def _teammates(user, reps_by_team: dict[int, list]) -> list:
    team_id = user.rep.team_id if hasattr(user, "rep") else None
    return [other for other in reps_by_team.get(team_id, []) if other.pk != user.pk]


def _seed(ctx) -> dict:
    rng = random.Random("salesops-cash-demo")
    now = timezone.now()
    products = list(Product.objects.filter(active=True).order_by("model_number"))
    customers = list(
        Customer.objects.filter(owner__rep__role=Role.REP).select_related("hospital", "owner__rep__team").order_by("hospital__name", "name")
    )
    rng.shuffle(customers)
    reps_by_team: dict[int, list] = {}
    from django.contrib.auth import get_user_model

    for user in get_user_model().objects.filter(rep__role=Role.REP).select_related("rep").order_by("username"):
        reps_by_team.setdefault(user.rep.team_id, []).append(user)
    supervisors = {team.pk: team.supervisor for team in ctx.teams} if ctx.teams else {}
    reasons = list(LostReason.objects.order_by("order"))

    plan = [WON] * 30 + [LOST] * 6 + [OPEN_SENT] * 9 + [DRAFT] * 3
    counts = {"quotes": 0, "won": 0, "lost": 0, "payments": 0, "solo": 0}
    won_deals = []
    for index, (scenario, customer) in enumerate(zip(plan, customers)):
        owner = customer.owner
        teammates = _teammates(owner, reps_by_team)
        supervisor = supervisors.get(owner.rep.team_id)
        lines = [(product, rng.choice((1, 1, 2, 3, 5))) for product in rng.sample(products, k=rng.choice((1, 2, 2, 3)))]
        if scenario == WON:
            closed_at = now - timedelta(days=3 + ((29 - index) * 118) // 30, hours=rng.randrange(8))  # numbers rise with time
            # A teammate quoted first and the customer turned it down: another rep on the deal.
            if teammates and index % 3 != 2:
                helper = rng.choice(teammates)
                _quote_flow(customer, helper, lines, start=closed_at - timedelta(days=40), outcome="rejected", rng=rng)
                counts["quotes"] += 1
            discount = rng.choice(("0", "0", "5", "8", "12"))
            version = _quote_flow(customer, owner, lines, start=closed_at - timedelta(days=12), outcome="confirmed", rng=rng, discount=discount, supervisor=supervisor, end=closed_at)
            counts["quotes"] += 1
            deal = deals.deal_win(version=version, by=owner, plan=_plan(version.total, closed_at, rng), at=closed_at)
            won_deals.append((deal, owner, teammates))
            counts["won"] += 1
        elif scenario == LOST:
            start = now - timedelta(days=20 + index * 3)
            version = _quote_flow(customer, owner, lines, start=start, outcome="sent", rng=rng, discount="0")
            deals.deal_lose(customer=customer, by=owner, reason=reasons[index % len(reasons)] if reasons else None, detail="", version=version, at=start + timedelta(days=6))
            counts["quotes"] += 1
            counts["lost"] += 1
        elif scenario == OPEN_SENT:
            # Six wait longer than 72 h (yellow light), three were sent today.
            hours_ago = 80 + index * 9 if index % 3 else 5 + index % 7
            _quote_flow(customer, owner, lines, start=now - timedelta(hours=hours_ago + 30), outcome="sent", rng=rng, end=now - timedelta(hours=hours_ago))
            counts["quotes"] += 1
        else:
            quote = quotes.quote_create(customer=customer, by=owner, at=now - timedelta(hours=3))
            version = quote.latest_version()
            for product, quantity in lines:
                quotes.quote_line_add(version=version, product=product, by=owner, quantity=quantity, discount_percent=Decimal("15") if index % 2 else Decimal("0"))
            if index % 2:
                quotes.discount_approval_request(version=version, by=owner, reason="省集采限价", at=now - timedelta(hours=2))
            counts["quotes"] += 1

    for deal, owner in _solo_deals(ctx, now, won_deals, products):
        won_deals.append((deal, owner, _teammates(owner, reps_by_team)))
        counts["quotes"] += 1
        counts["won"] += 1
        counts["solo"] += 1
    counts["payments"] = _payments(won_deals, now, rng, finance=ctx.ops or ctx.director)
    rows, proposals = _bank_statement(ctx, now)
    return counts | {"rows": rows, "proposals": proposals}


def solo_weeks(now: datetime, busy: set[date]) -> list[date]:
    """Mondays of the latest two consecutive complete ISO weeks with no other won deal of the team
    (`busy` holds the Mondays of its weeks with one), oldest first."""
    today = timezone.localtime(now).date()
    monday = today - timedelta(days=today.weekday() + 7)  # the last complete week
    while monday in busy or monday - timedelta(days=7) in busy:
        monday -= timedelta(days=7)
    return [monday - timedelta(days=7), monday]


def _solo_deals(ctx, now: datetime, won_deals: list, products: list) -> list:
    """A5/D2: one won deal in each of two consecutive complete weeks, on a new department only its
    owner worked in the 180 days before the close (1 rep per closed customer < 1.8)."""
    team = next((team for team in ctx.teams if team.name == SOLO_TEAM), None)
    if team is None:
        return []
    # Two reps of the team, each opening a new department at a hospital where they already sell.
    homes: dict = {}
    for existing in Customer.objects.filter(owner__rep__team=team, owner__rep__role=Role.REP).exclude(notes=SOLO_NOTE).select_related("hospital", "owner__rep").order_by("hospital__name", "name"):
        homes.setdefault(existing.owner, existing.hospital)
    owners = list(homes.items())
    if len(owners) < len(SOLO_DEPARTMENTS):
        return []
    rng = random.Random("salesops-cash-demo-solo")  # its own draws: the rest of the demo is unchanged
    busy = set()
    for deal, owner, _mates in won_deals:
        if owner.rep.team_id == team.pk:
            closed = timezone.localtime(deal.closed_at).date()
            busy.add(closed - timedelta(days=closed.weekday()))
    made = []
    for position, (monday, department_name) in enumerate(zip(solo_weeks(now, busy), SOLO_DEPARTMENTS)):
        owner, hospital = owners[position]
        closed_at = timezone.make_aware(datetime.combine(monday + timedelta(days=2 + position), time(15, rng.randrange(60))))
        department, _ = Department.objects.get_or_create(hospital=hospital, name=department_name)
        customer, created = Customer.objects.get_or_create(
            hospital=hospital,
            name=f"{hospital.name} {department_name}",
            defaults={"department": department, "owner": owner, "phone": f"0579{rng.randrange(10**7):07d}", "notes": SOLO_NOTE,
                      "created_at": closed_at - timedelta(days=30)},
        )
        if created:
            Contact.objects.create(customer=customer, name=f"{rng.choice('王李张刘陈杨')}主任", title=ContactTitle.DIRECTOR, phone=f"138{rng.randrange(10**8):08d}")
            _solo_lead(customer, owner, closed_at - timedelta(days=30))
        lines = [(product, rng.choice((1, 2, 3))) for product in rng.sample(products, k=rng.choice((1, 2)))]
        version = _quote_flow(customer, owner, lines, start=closed_at - timedelta(days=10), outcome="confirmed", rng=rng, end=closed_at)
        made.append((deals.deal_win(version=version, by=owner, plan=_plan(version.total, closed_at, rng), at=closed_at), owner))
    return made


def _solo_lead(customer, owner, introduced_at: datetime) -> None:
    """The new department came in as the owner's own lead (线索引入), so the owner — and only the
    owner — earned points on it before the close: density 1 for the deal (D8 counts point earners)."""
    from django.contrib.contenttypes.models import ContentType

    from leads.models import Lead, LeadSource, LeadStatus
    from salesops.models import Activity, ActivityKind

    lead = Lead.objects.create(
        customer=customer, contact_name=customer.name, phone=customer.phone, hospital=customer.hospital,
        hospital_name=customer.hospital.name, source=LeadSource.OTHER, status=LeadStatus.CONVERTED,
        introduced_by=owner, assignee=owner, created_at=introduced_at, assigned_at=introduced_at,
        first_assigned_at=introduced_at, acknowledged_at=introduced_at, first_effective_contact_at=introduced_at,
        closed_at=introduced_at + timedelta(days=29),
    )
    Activity.objects.create(
        rep=owner, team=owner.rep.team, kind=ActivityKind.LEAD_INTRODUCED, customer=customer, occurred_at=introduced_at,
        subject_type=ContentType.objects.get_for_model(Lead), subject_id=str(lead.pk), facts={"source": lead.source},
    )


def _quote_flow(customer, rep, lines, *, start: datetime, outcome: str, rng, discount: str = "0", supervisor=None, end: datetime | None = None):
    """Create, price and send a quote at `start`; then confirm/reject at `end` (or leave it sent)."""
    quote = quotes.quote_create(customer=customer, by=rep, at=start)
    version = quote.latest_version()
    for product, quantity in lines:
        quotes.quote_line_add(version=version, product=product, by=rep, quantity=quantity, discount_percent=Decimal(discount))
    version.refresh_from_db()
    if quotes.needs_approval(version) and supervisor is not None:
        approval = quotes.discount_approval_request(version=version, by=rep, reason="竞品压价", at=start + timedelta(hours=1))
        quotes.discount_approval_decide(approval=approval, approve=True, by=supervisor, note="同意", at=start + timedelta(hours=3))
    elif quotes.needs_approval(version):
        for line in version.lines.all():
            quotes.quote_line_update(line=line, by=rep, quantity=line.quantity, discount_percent=Decimal("0"), tax_rate_percent=line.tax_rate_percent)
    sent_at = end if outcome == "sent" and end else start + timedelta(hours=4)
    quotes.quote_version_send(version=version, by=rep, at=sent_at)
    if outcome == "confirmed":
        quotes.quote_version_confirm(version=version, by=rep, at=end or start + timedelta(days=2))
    elif outcome == "rejected":
        quotes.quote_version_reject(version=version, by=rep, at=start + timedelta(days=3))
    version.refresh_from_db()
    return version


def _plan(total: Decimal, closed_at: datetime, rng) -> list:
    count = rng.choice((1, 1, 2, 3))
    first_due = timezone.localtime(closed_at).date() + timedelta(days=rng.choice((20, 30, 45)))
    return deals.default_plan(total, count, first_due)


def _payments(won_deals: list, now: datetime, rng, finance=None) -> int:
    """Old deals are mostly paid (some ≥ 90 % — green), some are overdue, recent ones wait.
    Finance records them and names the pusher (T4); without a finance user the owner records
    them, unverified and with no pusher (a rep never names one)."""
    today = timezone.localdate()
    recorded = 0
    for position, (deal, owner, teammates) in enumerate(won_deals):
        for receivable in deal.receivables.order_by("sequence"):
            if receivable.due_date > today + timedelta(days=10):
                continue
            style = position % 5
            if style == 4:  # overdue, nothing paid yet
                continue
            amount = receivable.amount if style in (0, 1) else (receivable.amount * Decimal("0.5")).quantize(Decimal("0.01"))
            if style == 2 and receivable.sequence == 1:
                amount = receivable.amount
            received_on = min(receivable.due_date + timedelta(days=rng.randrange(-5, 25)), today)
            pusher = rng.choice(teammates) if teammates and position % 3 == 0 else owner
            if pusher.pk != owner.pk and not deal.reps.filter(pk=pusher.pk).exists():
                pusher = owner  # only a rep on the deal can be named (T4)
            at = timezone.make_aware(datetime.combine(received_on, datetime.min.time())) + timedelta(hours=15)
            deals.payment_record(
                receivable=receivable,
                amount=amount,
                received_on=received_on,
                by=finance or owner,
                pushed_by=pusher if finance else None,
                reference=f"回单{deal.number}-{receivable.sequence}",
                at=min(at, now),
            )
            recorded += 1
    return recorded


def _bank_statement(ctx, now: datetime) -> tuple[int, int]:
    """A GBK export of the last fortnight: exact payments from hospitals, a partial, a combined
    transfer, a distributor quoting our contract number, and bank noise."""
    today = timezone.localdate()
    open_receivables = list(Receivable.objects.open().select_related("deal__hospital").order_by("due_date", "pk"))
    lines: list[list[str]] = []
    balance = Decimal("1836520.00")

    def add(days_ago: int, credit: Decimal | None, debit: Decimal | None, payer: str, account: str, memo: str, note: str, reference: str):
        nonlocal balance
        balance += (credit or 0) - (debit or 0)
        lines.append(
            [(today - timedelta(days=days_ago)).isoformat(), f"{debit:,.2f}" if debit else "", f"{credit:,.2f}" if credit else "",
             f"{balance:,.2f}", payer, account, memo, note, reference]
        )

    by_hospital: dict[int, list] = {}
    for receivable in open_receivables:
        by_hospital.setdefault(receivable.deal.hospital_id, []).append(receivable)
    singles = [items[0] for items in by_hospital.values() if len(items) == 1]
    multiples = [items for items in by_hospital.values() if len(items) >= 2]
    serial = 0

    def ref() -> str:
        nonlocal serial
        serial += 1
        return f"ICBC{today:%Y%m%d}{serial:04d}"

    for offset, receivable in enumerate(singles[:5]):
        payer = receivable.deal.hospital.name + ("（财务处）" if offset % 2 else "")
        add(12 - offset, receivable.outstanding, None, payer, f"3301 0400 {1000 + offset}", "货款", "", ref())
    if len(singles) > 5:
        partial = singles[5]
        add(6, (partial.outstanding * Decimal("0.4")).quantize(Decimal("0.01")), None, partial.deal.hospital.name, "3301 0400 2001", "部分货款", "", ref())
    if multiples:
        items = multiples[0][:2]
        add(5, sum(r.outstanding for r in items), None, items[0].deal.hospital.name, "3301 0400 2002", "货款", "两期合并支付", ref())
    if len(singles) > 6:
        named = singles[6]
        add(4, named.outstanding, None, "浙江康联医药有限公司", "3301 0400 3003", "代付货款", f"合同号{named.deal.number}", ref())
    add(3, Decimal("12.36"), None, "中国工商银行", "", "结息", "", ref())
    add(2, None, Decimal("1860.00"), "杭州顺丰速运有限公司", "3301 0400 4004", "运费", "", ref())
    add(1, Decimal("5000.00"), None, "杭州某某科技有限公司", "3301 0400 5005", "往来款", "", ref())

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["中国工商银行 账户历史明细"])
    writer.writerow([f"账号：{DEMO_ACCOUNT_NUMBER}", "户名：浙江安康医疗器械有限公司"])
    writer.writerow([f"起止日期：{today - timedelta(days=14)} 至 {today}"])
    writer.writerow([])
    writer.writerow(["交易日期", "借方金额", "贷方金额", "余额", "对方户名", "对方账号", "摘要", "附言", "流水号"])
    writer.writerows(lines)
    writer.writerow(["合计"])

    account = BankAccount(name=DEMO_ACCOUNT, bank="generic", account_number=DEMO_ACCOUNT_NUMBER, column_map=dict(PRESETS["generic"]["map"]))
    account.full_clean()
    account.save()
    uploader = ctx.ops or ctx.director
    statement = BankStatement(account=account, original_name=f"工行流水-{today:%Y%m%d}.csv", uploaded_by=uploader, uploaded_at=now)
    statement.file.save(statement.original_name, ContentFile(buffer.getvalue().encode("gbk")), save=True)
    statement = statement_import(statement.pk)
    return statement.new_rows, statement.proposals
