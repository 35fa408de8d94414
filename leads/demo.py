"""Demo lead history (A5): ~4 months of leads for the demo company, assigned by the real engine.

Most leads are acknowledged within a minute or two (the company's target is a median under 90 s),
some slowly, about one in ten only after the 3-minute escalation (with the call robot's first-touch
call); reps call (some calls fail, some are short), a few visit; older leads are converted or
closed. A handful of open leads nobody followed up for more than 48 h light the board's red lamp.
One slow spell: in a recent week (ending at least 8 days ago) 温台组 was short-handed from Tuesday
to Thursday (two reps at a congress), so its first effective contacts came hours after the
assignment — the dashboards' 复核分配规则 has a real run of three days to find; every other day and
team stays healthy.

Idempotent (nothing is added when leads exist) and deterministic (one draw from ctx.rng, then a
private generator). Fast: bulk writes — history rows through simple_history's
bulk_create_with_history, ledger rows with bulk_create (each with its own unique kind + subject,
never updated).
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from datetime import date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from .territories import AreaRow, TerritoryIndex, match_lead

from salesops.models import Activity, ActivityKind, Rep, Role

from .assignment import STORED_CANDIDATES, Candidate, LeadFacts, Owner, Weights, decide
from .models import (
    AssignmentDecision,
    AssignmentRules,
    OwnerPolicy,
    RulesStatus,
    Territory,
    TerritoryArea,
    ContactAttempt,
    ContactKind,
    ContactOutcome,
    ContactSource,
    Lead,
    LeadSource,
    LeadStatus,
)

DAYS = 120
SOURCES = [
    (LeadSource.WEBSITE, 30), (LeadSource.WEB_FORM, 18), (LeadSource.WECHAT, 20), (LeadSource.PHONE, 10),
    (LeadSource.EXHIBITION, 8), (LeadSource.REFERRAL, 8), (LeadSource.REP, 6),
]
REP_SOURCED = {LeadSource.WECHAT, LeadSource.REP, LeadSource.REFERRAL}
TITLES = ["主任", "副主任", "医生", "护士长", "采购", "院长"]
CLOSE_REASONS = ["客户暂无预算", "已选用竞品", "联系不上", "重复咨询", "非目标科室"]
RED_LIGHT_LEADS = 7
SLOW_TEAM = "温台组"
SLOW_DAYS = 3  # the lead-timeliness rule fires after three days running
SLOW_ENDS_DAYS_AGO = 8  # the slow spell ends at least this many days ago, on a weekday run
SLOW_MIN_LEADS = 5
SLOW_FIRST_CONTACT_MINUTES = (190, 420)  # from acknowledgement to the first call in the slow spell


# L10: one territory per team, matching the teams' cities (杭州 split by district between its two teams).
TERRITORIES = [
    ("杭州一组", "杭州主城区·湖州", [("杭州", "上城"), ("杭州", "拱墅"), ("杭州", "西湖"), ("杭州", "滨江"), ("湖州", "")]),
    ("杭州二组", "杭州新城区·嘉兴", [("杭州", "萧山"), ("杭州", "余杭"), ("杭州", "临平"), ("杭州", "富阳"), ("嘉兴", "")]),
    ("宁绍组", "宁波·绍兴·舟山", [("宁波", ""), ("绍兴", ""), ("舟山", "")]),
    ("温台组", "温州·台州·丽水", [("温州", ""), ("台州", ""), ("丽水", "")]),
    ("浙中西组", "金华·衢州", [("金华", ""), ("衢州", "")]),
]
# The second-wave rules (territory, account owner first, tie band) went live this many days ago;
# before that the first-wave rules (grade, line, load; exact ties) decided the demo's leads.
NEW_RULES_DAYS_AGO = 30
STORY_HOSPITAL = "杭州市第一人民医院"  # issue 15's web lead: an owned customer reaches its owner



_NOTICE_VERSION: dict[str, str] = {}  # one lookup per seeding process, not one per lead


def demo_consent(source: str, created_at) -> dict:
    """P1: demo leads carry consent like real ones — the website's notice, or the channel's basis."""
    from salesops.models import ConsentBasis, PrivacyNotice

    from .models import CONSENT_REQUIRED_SOURCES

    if source in CONSENT_REQUIRED_SOURCES:
        version = _NOTICE_VERSION.get("v") or _NOTICE_VERSION.setdefault("v", PrivacyNotice.current().version)
        return {"consent_basis": ConsentBasis.NOTICE, "consent_notice_version": version,
                "consent_given_at": created_at - timedelta(seconds=30), "consent_channel": str(source)}
    return {"consent_basis": ConsentBasis.ELSEWHERE, "consent_channel": str(source)}

def seed_territories(ctx, since: datetime) -> TerritoryIndex:
    """The demo company's territories, recorded (history) as set up at `since` so the simulation
    replays them for every demo lead. Idempotent."""
    teams = {team.name: team for team in ctx.teams}
    rows: list[AreaRow] = []
    for team_name, name, areas in TERRITORIES:
        team = teams.get(team_name)
        if team is None:
            continue
        territory = Territory.objects.filter(name=name).first()
        if territory is None:
            territory = Territory(name=name, team=team, note="演示数据")
            territory._history_date = since
            territory.save()
        for city, district in areas:
            if not TerritoryArea.objects.filter(city=city, district=district, hospital__isnull=True).exists():
                area = TerritoryArea(territory=territory, city=city, district=district)
                area._history_date = since
                area.save()
            rows.append(AreaRow(None, city, district, territory.name, team.pk))
    return TerritoryIndex(rows)


def demo_rules(now: datetime) -> tuple[AssignmentRules, AssignmentRules]:
    """(first-wave rules, second-wave rules): the fresh install's unused v1 is retired and the
    first-wave version the demo's older leads were decided by is published as v2; v3 (the new
    defaults) is published NEW_RULES_DAYS_AGO days ago. A published version is never edited (T7),
    so the first wave is a version of its own. With decisions already stored nothing is changed."""
    live = AssignmentRules.live()
    if live.decisions.exists() or AssignmentRules.objects.count() > 1:
        return live, live
    started, switched = now - timedelta(days=DAYS + 1), now - timedelta(days=NEW_RULES_DAYS_AGO)
    live.status = RulesStatus.RETIRED
    live._history_date = started
    live.save(update_fields=["status"])
    first = AssignmentRules(
        version=live.version + 1, status=RulesStatus.RETIRED, published_at=started, created_at=started,
        weight_grade=live.weight_grade, weight_product_line=live.weight_product_line, weight_workload=live.weight_workload,
        weight_territory=0, owner_policy=OwnerPolicy.OFF, tie_band=0, ack_timeout_minutes=live.ack_timeout_minutes,
        dedupe_window_days=live.dedupe_window_days, note="第一版：等级、产品线、负荷；严格同分轮转",
    )  # fmt: skip
    first._history_date = started
    first.save()
    new = AssignmentRules(version=first.version + 1, status=RulesStatus.LIVE, published_at=switched, created_at=switched,
                          note="第二版：加入辖区、客户归属优先、2 分同分区间")
    new._history_date = switched
    new.save()
    return first, new


def _roster() -> list[Candidate]:
    reps = Rep.objects.filter(role=Role.REP, user__is_active=True).select_related("user").prefetch_related("product_lines")
    return [
        Candidate(
            user_id=rep.user_id,
            name=rep.display_name,
            team_id=rep.team_id,
            grades=frozenset(rep.grades_served or ()),
            line_ids=frozenset(line.pk for line in rep.product_lines.all()),
            capacity=rep.capacity,
            on_duty=True,  # history: everyone was working then (today's off-duty flags are today's)
        )
        for rep in reps
    ]


def _facts(customer, product, territories: TerritoryIndex, by_id: dict[int, Candidate]) -> LeadFacts:
    hospital = customer.hospital
    owner = by_id.get(customer.owner_id)
    return LeadFacts(
        hospital.grade,
        product.line_id,
        match_lead(territories, hospital, hospital.name),
        Owner(owner.user_id, owner.name, owner.team_id, "customer") if owner else None,
    )


def _story_lead(ctx, now: datetime, roster, territories, rules, last_assigned) -> tuple[Lead, dict] | None:
    """Issue 15's case, 12 minutes ago: a web lead for an owned customer of 杭州市第一人民医院 —
    under the live rules it reaches the customer's owner."""
    customer = next((c for c in ctx.customers if c.hospital.name == STORY_HOSPITAL and c.owner_id), None)
    if customer is None:
        return None
    product = next((p for p in ctx.products if p.model_number == "AK-HIP-01"), ctx.products[0])
    by_id = {candidate.user_id: candidate for candidate in roster}
    decision = decide(roster, _facts(customer, product, territories, by_id), Weights.of(rules), lambda ids: {i: last_assigned.get(i) for i in ids})
    created_at = now - timedelta(minutes=12)
    lead = Lead(
        customer=customer, contact_name="郑主任", phone="+8613957100015", product_model=product.model_number, product=product,
        hospital=customer.hospital, hospital_name=customer.hospital.name, hospital_grade=customer.hospital.grade,
        source=LeadSource.WEBSITE, assignee_id=decision.chosen_id, created_at=created_at,
        assigned_at=created_at + timedelta(milliseconds=9) if decision.chosen_id else None,
        status=LeadStatus.ASSIGNED if decision.chosen_id else LeadStatus.NEW,
        **demo_consent(LeadSource.WEBSITE, created_at),
    )
    lead.first_assigned_at = lead.assigned_at
    if lead.assigned_at:  # the owner opened the WeCom card 40 s later
        lead.acknowledged_at, lead.acknowledged_via, lead.status = lead.assigned_at + timedelta(seconds=40), "link", LeadStatus.ACKNOWLEDGED
    lead._history_date = created_at
    return lead, {"decision": decision, "rules": rules}


def _moment(rng: random.Random, day: datetime) -> datetime:
    """A working-hours moment (08:30–19:30 local) on `day`."""
    local = timezone.localtime(day).replace(hour=8, minute=30, second=0, microsecond=0)
    return local + timedelta(seconds=rng.randrange(11 * 3600))


def _ack_delay(rng: random.Random) -> float | None:
    roll = rng.random()
    if roll < 0.68:
        return rng.uniform(15, 90)
    if roll < 0.88:
        return rng.uniform(90, 175)
    if roll < 0.97:
        return rng.uniform(185, 1200)  # after the escalation
    return None  # never acknowledged


def slow_spell(now: datetime, assigned: dict[date, int]) -> list[date]:
    """The SLOW_DAYS consecutive weekdays (local dates) of the slow spell, between two weekdays: the
    latest such run ending at least SLOW_ENDS_DAYS_AGO days before `now` on which the team was
    assigned at least SLOW_MIN_LEADS leads a day (`assigned`), so every day of it has contacted
    leads to measure."""
    last = timezone.localtime(now).date() - timedelta(days=SLOW_ENDS_DAYS_AGO)
    for _shift in range(DAYS - SLOW_ENDS_DAYS_AGO - SLOW_DAYS):
        days = [last - timedelta(days=offset) for offset in range(SLOW_DAYS - 1, -1, -1)]
        # Weekdays on both sides too: a busy weekday before and after bounds the run at three days
        # (a weekend day with a single slow lead could otherwise lengthen it).
        around = [days[0] - timedelta(days=1), days[-1] + timedelta(days=1)]
        if all(day.weekday() < 5 for day in days + around) and all(assigned.get(day, 0) >= SLOW_MIN_LEADS for day in days):
            return days
        last -= timedelta(days=1)
    return []


def seed(ctx) -> None:
    rng = random.Random(ctx.rng.random())  # always draw exactly once, so later modules stay deterministic
    if Lead.objects.exists():
        ctx.say("线索：已有数据，跳过")
        return
    with transaction.atomic():
        _seed(ctx, rng)


def _seed(ctx, rng: random.Random) -> None:
    now = timezone.now()
    territories = seed_territories(ctx, now - timedelta(days=DAYS + 1))
    first_rules, new_rules = demo_rules(now)
    switch_at = now - timedelta(days=NEW_RULES_DAYS_AGO)
    roster = _roster()
    if not roster or not ctx.customers:
        return
    by_id = {candidate.user_id: candidate for candidate in roster}
    users = {user.pk: user for user in ctx.reps}
    team_of = {candidate.user_id: candidate.team_id for candidate in roster}
    reps_by_team: dict[int | None, list[int]] = defaultdict(list)
    for candidate in roster:
        reps_by_team[candidate.team_id].append(candidate.user_id)
    recent: dict[int, deque] = defaultdict(deque)  # assignments still "open" for the load dimension
    last_assigned: dict[int, datetime] = {}
    sources, source_weights = zip(*SOURCES)

    leads: list[Lead] = []
    plans: list[dict] = []
    for days_ago in range(DAYS, -1, -1):
        day = now - timedelta(days=days_ago)
        weekend = timezone.localtime(day).weekday() >= 5
        for _n in range(rng.randint(4, 10) if weekend else rng.randint(26, 42)):
            created_at = _moment(rng, day)
            if created_at > now - timedelta(minutes=2):
                continue
            customer = rng.choice(ctx.customers)
            hospital = customer.hospital
            product = rng.choice(ctx.products)
            source = rng.choices(sources, source_weights)[0]
            introduced_by = None
            if source in REP_SOURCED and customer.owner_id in users:
                team = reps_by_team.get(team_of.get(customer.owner_id), [customer.owner_id])
                introduced_by = customer.owner_id if rng.random() < 0.6 else rng.choice(team)
            # Loads: what each rep still had open around then (leads of the last 2 days).
            for candidate in roster:
                queue = recent[candidate.user_id]
                while queue and queue[0] < created_at - timedelta(days=2):
                    queue.popleft()
                candidate.open_count = len(queue)
            rules = new_rules if created_at >= switch_at else first_rules
            facts = _facts(customer, product, territories, by_id)
            decision = decide(roster, facts, Weights.of(rules), lambda ids: {i: last_assigned.get(i) for i in ids})
            assignee_id = decision.chosen_id
            if assignee_id:
                recent[assignee_id].append(created_at)
                last_assigned[assignee_id] = created_at
            surname = rng.choice("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹")
            lead = Lead(
                customer=customer,
                contact_name=f"{surname}{rng.choice(TITLES)}",
                phone=f"+861{rng.choice('35789')}{rng.randrange(10**9):09d}",
                product_model=product.model_number,
                product=product,
                hospital=hospital,
                hospital_name=hospital.name,
                hospital_grade=hospital.grade,
                source=source,
                introduced_by_id=introduced_by,
                assignee_id=assignee_id,
                created_at=created_at,
                assigned_at=created_at + timedelta(milliseconds=rng.randint(4, 40)) if assignee_id else None,
                status=LeadStatus.ASSIGNED if assignee_id else LeadStatus.NEW,
                **demo_consent(source, created_at),
            )
            lead.first_assigned_at = lead.assigned_at  # bulk_create skips Lead.save(), which keeps it
            lead._history_date = created_at
            leads.append(lead)
            plans.append({"decision": decision, "rules": rules})

    slow_team = next((team.pk for team in ctx.teams if team.name == SLOW_TEAM), None)
    slow_assigned: dict[date, int] = defaultdict(int)
    for lead in leads:
        if lead.assignee_id and team_of.get(lead.assignee_id) == slow_team:
            slow_assigned[timezone.localtime(lead.assigned_at).date()] += 1
    slow_days = set(slow_spell(now, slow_assigned)) if slow_team is not None else set()

    # What happened next, decided per lead (time only moves forward; nothing after `now`).
    attempts_plan: list[tuple[int, dict]] = []
    red_candidates = []
    for index, lead in enumerate(leads):
        if not lead.assignee_id:
            continue
        age = now - lead.created_at
        delay = _ack_delay(rng)
        if delay is not None and lead.assigned_at + timedelta(seconds=delay) < now:
            lead.acknowledged_at = lead.assigned_at + timedelta(seconds=delay)
            lead.acknowledged_via = rng.choice(["link", "link", "link", "button"])
            lead.status = LeadStatus.ACKNOWLEDGED
        timeout = new_rules.ack_timeout_minutes
        if lead.assigned_at + timedelta(minutes=timeout) < now and (
            lead.acknowledged_at is None or lead.acknowledged_at > lead.assigned_at + timedelta(minutes=timeout)
        ):
            lead.escalated_at = lead.assigned_at + timedelta(minutes=timeout, seconds=rng.randint(0, 25))
            attempts_plan.append((index, {"robot": True, "at": lead.escalated_at + timedelta(seconds=rng.randint(20, 90))}))
        if lead.acknowledged_at is None:
            if age > timedelta(days=2):
                lead.status, lead.closed_at, lead.close_reason = LeadStatus.CLOSED, lead.assigned_at + timedelta(days=2), "超时无人跟进，主管关闭"
            continue
        # Calls: maybe a miss first, then (usually) a real conversation; sometimes a visit.
        # In the slow spell the assignee acknowledged the push but called only hours later.
        slow = team_of.get(lead.assignee_id) == slow_team and timezone.localtime(lead.assigned_at).date() in slow_days
        moment = lead.acknowledged_at + timedelta(minutes=rng.uniform(*SLOW_FIRST_CONTACT_MINUTES) if slow else rng.uniform(1, 25))
        if rng.random() < 0.3 and moment < now:
            attempts_plan.append((index, {"kind": ContactKind.CALL, "at": moment, "seconds": 0, "outcome": rng.choice([ContactOutcome.NO_ANSWER, ContactOutcome.BUSY])}))
            moment += timedelta(minutes=rng.uniform(10, 240))
        effective_roll = rng.random()
        if effective_roll < 0.86 and moment < now:
            if rng.random() < 0.06:
                attempts_plan.append((index, {"kind": ContactKind.VISIT, "at": moment + timedelta(hours=rng.uniform(2, 48))}))
            else:
                short = rng.random() < 0.12
                seconds = rng.randint(15, 55) if short else rng.randint(60, 900)
                attempts_plan.append((index, {"kind": ContactKind.CALL, "at": moment, "seconds": seconds, "outcome": ContactOutcome.ANSWERED}))
                if short and moment + timedelta(hours=3) < now:
                    attempts_plan.append((index, {"kind": ContactKind.CALL, "at": moment + timedelta(hours=rng.uniform(1, 3)), "seconds": rng.randint(90, 600), "outcome": ContactOutcome.ANSWERED}))
        elif timedelta(days=3) < age < timedelta(days=7):
            red_candidates.append(index)

    # A few open leads nobody followed up for more than 48 hours (the board's red light).
    red = set(rng.sample(red_candidates, min(RED_LIGHT_LEADS, len(red_candidates))))
    by_lead: dict[int, list[dict]] = defaultdict(list)
    for index, plan in attempts_plan:
        if plan["at"] < now:
            by_lead[index].append(plan)
    for index, lead in enumerate(leads):
        if lead.acknowledged_at is None or lead.status == LeadStatus.CLOSED:
            continue
        plans_here = sorted((p for p in by_lead[index] if not p.get("robot")), key=lambda p: p["at"])
        if plans_here:
            lead.last_contact_at = plans_here[-1]["at"]
        effective = [p for p in plans_here if p["kind"] == ContactKind.VISIT or p.get("seconds", 0) >= 60]
        if effective:
            lead.first_effective_contact_at = effective[0]["at"]
            lead.status = LeadStatus.CONTACTED
            age = now - lead.created_at
            if age > timedelta(days=14):
                roll = rng.random()
                if roll < 0.22:
                    lead.status, lead.closed_at = LeadStatus.CONVERTED, lead.first_effective_contact_at + timedelta(days=rng.uniform(5, 12))
                elif roll < 0.6:
                    lead.status, lead.closed_at = LeadStatus.CLOSED, lead.first_effective_contact_at + timedelta(days=rng.uniform(2, 10))
                    lead.close_reason = rng.choice(CLOSE_REASONS)
        elif index not in red and now - (lead.last_contact_at or lead.assigned_at) > timedelta(hours=40):
            lead.status, lead.closed_at = LeadStatus.CLOSED, (lead.last_contact_at or lead.acknowledged_at) + timedelta(hours=36)
            lead.close_reason = "联系不上"

    # Added after every random draw, so the rest of the demo (and the dashboards' planted slow spell)
    # is exactly what it was without it.
    story = _story_lead(ctx, now, roster, territories, new_rules, last_assigned)
    if story is not None:
        leads.append(story[0])
        plans.append(story[1])
    leads = bulk_create_with_history(leads, Lead, batch_size=500)
    AssignmentDecision.objects.bulk_create(
        [
            AssignmentDecision(
                lead=lead,
                rules=plan["rules"],
                chosen_id=lead.assignee_id,
                decided_at=lead.assigned_at or lead.created_at,
                basis=plan["decision"].basis,
                reason=plan["decision"].reason[:200],
                context=plan["decision"].context,
                candidates=plan["decision"].ranked[:STORED_CANDIDATES],
                skipped=plan["decision"].skipped,
                eligible_count=plan["decision"].eligible_count,
                tie_size=plan["decision"].tie_size,
                duration_us=rng.randint(400, 2500),
            )
            for lead, plan in zip(leads, plans)
        ],
        batch_size=500,
    )

    attempts: list[ContactAttempt] = []
    for index, lead in enumerate(leads):
        for plan in sorted(by_lead[index], key=lambda p: p["at"]):
            if plan.get("robot"):
                seconds = rng.randint(20, 75)
                attempt = ContactAttempt(lead=lead, kind=ContactKind.CALL, source=ContactSource.ROBOT, occurred_at=plan["at"], duration_seconds=seconds,
                                         outcome=ContactOutcome.ANSWERED if rng.random() < 0.7 else ContactOutcome.NO_ANSWER, note="外呼机器人首呼核实")
                if attempt.outcome != ContactOutcome.ANSWERED:
                    attempt.duration_seconds = 0
            elif plan["kind"] == ContactKind.VISIT:
                attempt = ContactAttempt(lead=lead, kind=ContactKind.VISIT, by_id=lead.assignee_id, occurred_at=plan["at"], outcome=ContactOutcome.ONSITE, effective=True)
            else:
                attempt = ContactAttempt(lead=lead, kind=ContactKind.CALL, by_id=lead.assignee_id, occurred_at=plan["at"], duration_seconds=plan["seconds"],
                                         outcome=plan["outcome"], effective=plan["seconds"] >= 60)
            attempt._history_date = plan["at"]
            attempts.append(attempt)
    attempts = bulk_create_with_history(attempts, ContactAttempt, batch_size=500)

    lead_type = ContentType.objects.get_for_model(Lead)
    attempt_type = ContentType.objects.get_for_model(ContactAttempt)
    activities: list[Activity] = []

    def add(rep_id: int, kind: str, customer_id, subject_type, subject_id: int, at: datetime, facts: dict) -> None:
        activities.append(Activity(rep_id=rep_id, team_id=team_of.get(rep_id), customer_id=customer_id, kind=kind, occurred_at=at, recorded_at=at,
                                   subject_type=subject_type, subject_id=str(subject_id), facts=facts))

    for lead in leads:
        if lead.introduced_by_id:
            add(lead.introduced_by_id, ActivityKind.LEAD_INTRODUCED, lead.customer_id, lead_type, lead.pk, lead.created_at, {"source": lead.source})
        if lead.acknowledged_at:
            add(lead.assignee_id, ActivityKind.LEAD_ACKNOWLEDGED, lead.customer_id, lead_type, lead.pk, lead.acknowledged_at, {"seconds_to_ack": lead.seconds_to_ack or 0})
    customer_of = {lead.pk: lead.customer_id for lead in leads}
    for attempt in attempts:
        if attempt.source == ContactSource.ROBOT:
            continue  # the robot is not a rep: no ledger row (see services.call_event_apply)
        if attempt.kind == ContactKind.VISIT:
            add(attempt.by_id, ActivityKind.VISIT_CHECKIN, customer_of[attempt.lead_id], attempt_type, attempt.pk, attempt.occurred_at, {"lead_id": attempt.lead_id})
        else:
            add(attempt.by_id, ActivityKind.CALL, customer_of[attempt.lead_id], attempt_type, attempt.pk, attempt.occurred_at,
                {"duration_seconds": attempt.duration_seconds, "effective": attempt.duration_seconds >= 60, "lead_id": attempt.lead_id})
    Activity.objects.bulk_create(activities, batch_size=1000)

    acked = [lead.seconds_to_ack for lead in leads if lead.seconds_to_ack is not None]
    acked.sort()
    median = acked[len(acked) // 2] if acked else 0
    ctx.say(
        f"线索：{len(leads)} 条（{DAYS} 天），接收中位数 {median} 秒，升级 {sum(1 for lead in leads if lead.escalated_at)} 条，"
        f"联系记录 {len(attempts)} 条，超 48 小时未跟进 {len(red)} 条"
    )
