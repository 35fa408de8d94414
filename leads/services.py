"""Lead workflows (L1–L8): validate, save, append activities, enqueue notifications on commit.

Concurrency: every path that reads reps' workloads and then assigns takes the assignment lock —
`AssignmentRules.live(for_update=True)`, a row lock on PostgreSQL; on SQLite the transaction is
IMMEDIATE (settings), which holds the database write lock from BEGIN. Either way two intakes
arriving together are decided one after the other and the second sees the first's lead.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django_q.models import Schedule

from salesops.delivery import channel_configured, claim
from salesops.ledger import activity_append
from salesops.models import ActivityKind, Channel, ConsentBasis, Customer, Department, Role, Team
from salesops.notifications import notification_enqueue
from salesops.privacy import mask_phone

from . import assignment
from .access import can_change_lead, may_hand_to
from .availability import availability_at
from .intake import IntakeData, consent_missing_message
from .models import (
    CLOSED_LEAD_STATUSES,
    OPEN_LEAD_STATUSES,
    AssignmentDecision,
    AssignmentRules,
    ContactAttempt,
    ContactKind,
    ContactOutcome,
    ContactSource,
    ContactVerification,
    DecisionKind,
    DialerCall,
    DialerStatus,
    EFFECTIVE_CALL_SECONDS,
    Lead,
    LeadRepeat,
    SourceConsent,
    LeadStatus,
    NotifyChannel,
    RulesStatus,
)

logger = logging.getLogger(__name__)
User = get_user_model()

ACK_SALT = "leads.ack"
ACK_MAX_AGE = timedelta(days=7)
# Which department of a hospital a lead for a product line belongs to.
LINE_DEPARTMENTS = {"joint": "关节外科", "spine": "脊柱外科", "trauma": "创伤骨科", "sports": "运动医学科"}
DEFAULT_DEPARTMENT = "骨科"
PERSON_CHANNELS = (Channel.IN_APP, Channel.WECOM_APP, Channel.WECOM_ROBOT, Channel.EMAIL, Channel.WEB_PUSH)
DIALER_SCRIPT = "first_touch_v1"


class LeadActionError(ValidationError):
    """A workflow step that is not allowed in the lead's current state (shown to the user)."""


@dataclass
class IntakeResult:
    lead: Lead
    created: bool
    duplicate: bool = False
    decision: AssignmentDecision | None = None


# --- Acknowledgement links (L6) ------------------------------------------------------------------


def ack_token(lead: Lead, user) -> str:
    """Signed, unguessable and bound to the lead *and* the assignee it was sent to."""
    return signing.dumps({"l": lead.pk, "u": user.pk}, salt=ACK_SALT)


def read_ack_token(token: str) -> tuple[int, int] | None:
    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=ACK_MAX_AGE)
        return int(data["l"]), int(data["u"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def ack_path(lead: Lead, user) -> str:
    return reverse("leads:ack_link", args=[ack_token(lead, user)])


# --- Notification helpers --------------------------------------------------------------------------


def channels_for(event: str, recipient) -> list[str]:
    """The person channels ops enabled for `event` ("assignment" | "escalation") that can reach
    this recipient here. In-app always works; the others need configuration and an address."""
    settings_rows = assignment.cached_routing(assignment._channels, _load_channel_settings)
    if not settings_rows:  # a flushed database: the defaults
        settings_rows = tuple((channel, True, True, True) for channel in (*PERSON_CHANNELS, Channel.CALL_ROBOT))
    index = 2 if event == "assignment" else 3
    rows = {row[0]: row[1] and row[index] for row in settings_rows}
    rep = getattr(recipient, "rep", None)
    chosen = []
    for channel in PERSON_CHANNELS:
        if not rows.get(channel) or not channel_configured(channel):
            continue
        if channel == Channel.WECOM_APP and not getattr(rep, "wecom_userid", ""):
            continue
        if channel == Channel.EMAIL and not recipient.email:
            continue
        if channel == Channel.WEB_PUSH and not recipient.push_subscriptions.filter(active=True).exists():
            continue  # U4: only a user who turned push on in a browser
        chosen.append(channel)
    return chosen or [Channel.IN_APP]


def _load_channel_settings() -> tuple:
    return tuple(NotifyChannel.objects.values_list("channel", "enabled", "on_assignment", "on_escalation"))


def _lead_summary(lead: Lead) -> list[str]:
    # P2: messages travel through WeCom, e-mail and groups — the number is masked; the assignee
    # opens the lead page (behind login) for the full number.
    lines = [_("客户：%(name)s %(phone)s") % {"name": lead.contact_name, "phone": mask_phone(lead.phone)}]
    if lead.hospital_display:
        grade = lead.get_hospital_grade_display() if lead.hospital_grade else ""
        lines.append(_("医院：%(hospital)s %(grade)s") % {"hospital": lead.hospital_display, "grade": grade})
    if lead.product_model:
        lines.append(_("意向：%(model)s") % {"model": lead.product_model})
    lines.append(_("来源：%(source)s") % {"source": lead.get_source_display()})
    return lines


def _textcard_html(lead: Lead, summary: list[str], highlight: str) -> str:
    from html import escape

    when = timezone.localtime(lead.created_at).strftime("%Y-%m-%d %H:%M")
    rows = [f'<div class="gray">{when}</div>']
    rows += [f'<div class="normal">{escape(line)}</div>' for line in summary]
    rows.append(f'<div class="highlight">{escape(highlight)}</div>')
    return "".join(rows)


def _notify(recipient, *, event: str, lead: Lead, title: str, summary: list[str], note: str, url: str, key: str) -> None:
    """One outbox row per channel ops enabled for `event` that can reach the recipient."""
    body = "\n".join([*summary, note])
    for channel in channels_for(event, recipient):
        payload = {"lead_id": lead.pk}
        if channel == Channel.WECOM_APP:  # the text card wants its own HTML and button
            payload |= {"description_html": _textcard_html(lead, summary, note), "btntxt": _("接收") if event == "assignment" else _("查看")}
        elif channel == Channel.WECOM_ROBOT:  # the whole group reads it: the lead page, not the ack link (R2)
            payload["group_url"] = reverse("leads:detail", args=[lead.pk])
        notification_enqueue(
            recipient=recipient,
            title=title,
            body=body,
            url=url,
            channel=channel,
            payload=payload,
            dedupe_key=f"lead:{lead.pk}:{key}:{recipient.pk}:{channel}",
        )


def _notify_assignee(lead: Lead, decision: AssignmentDecision, timeout_minutes: int) -> None:
    assignee = lead.assignee  # fetched with its rep by the caller
    _notify(
        assignee,
        event="assignment",
        lead=lead,
        title=_("新线索：%(who)s") % {"who": lead.hospital_display or lead.contact_name},
        summary=_lead_summary(lead),
        note=_("请 %(n)s 分钟内接收") % {"n": timeout_minutes},
        url=ack_path(lead, assignee),
        key=f"d{decision.pk}",
    )


def supervisors_of(user) -> list:
    """Who hears about a rep's overdue lead: the team's supervisor, else the directors."""
    rep = getattr(user, "rep", None)
    team = rep.team if rep and rep.team_id else None
    if team and team.supervisor_id and team.supervisor_id != user.pk:
        return [User.objects.select_related("rep").get(pk=team.supervisor_id)]
    return list(User.objects.select_related("rep").filter(rep__role=Role.DIRECTOR, is_active=True))


def _schedule_escalation_check(lead: Lead, rules: AssignmentRules) -> None:
    """A one-off check at the deadline, so escalation happens within ~30 s of it (the qcluster
    scheduler's cycle) rather than at the next per-minute sweep; the sweep stays the safety net."""
    Schedule.objects.create(
        func="leads.tasks.escalate_lead",
        args=str(lead.pk),
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=lead.assigned_at + timedelta(minutes=rules.ack_timeout_minutes, seconds=1),
    )


# --- Intake and assignment (L1–L4) ---------------------------------------------------------------


def _find_duplicate(phone: str, now: datetime, window_days: int) -> Lead | None:
    return Lead.objects.filter(phone=phone, created_at__gte=now - timedelta(days=window_days)).order_by("-created_at").first()


def _resolve_customer(data: IntakeData) -> tuple[Customer | None, bool]:
    """The customer (a hospital department) this lead belongs to: an earlier lead's customer for the
    same phone, else the hospital's department for the product line (created when missing)."""
    if data.hospital is None:
        previous = (
            Lead.objects.filter(phone=data.phone, customer__isnull=False)
            .select_related("customer", "customer__hospital")
            .order_by("-created_at")
            .first()
        )
        if previous:
            data.hospital, data.hospital_name = previous.customer.hospital, previous.customer.hospital.name
            data.hospital_grade = previous.customer.hospital.grade
            return previous.customer, False
        return None, False
    wanted = LINE_DEPARTMENTS.get(data.product.line.code, DEFAULT_DEPARTMENT) if data.product else DEFAULT_DEPARTMENT
    customers = list(Customer.objects.filter(hospital=data.hospital).select_related("department"))
    for name in (wanted, DEFAULT_DEPARTMENT):
        for customer in customers:
            if customer.department and customer.department.name == name:
                return customer, False
    if customers:
        return customers[0], False
    department, _created = Department.objects.get_or_create(hospital=data.hospital, name=wanted)
    customer, created = Customer.objects.get_or_create(
        hospital=data.hospital, name=f"{data.hospital.name} {wanted}", defaults={"department": department}
    )
    return customer, created


def _record_repeat(lead: Lead, data: IntakeData, by, now: datetime) -> None:
    LeadRepeat.objects.create(
        lead=lead,
        received_at=now,
        source=data.source,
        contact_name=data.contact_name,
        product_model=data.product_model,
        hospital_name=data.hospital_name,
        note=data.note,
        introduced_by=by,
    )
    lead.repeat_count += 1
    lead.last_repeat_at = now
    lead.save(update_fields=["repeat_count", "last_repeat_at"])
    if lead.assignee_id:
        assignee = User.objects.select_related("rep").get(pk=lead.assignee_id)
        notification_enqueue(
            recipient=assignee,
            title=_("客户再次咨询：%(name)s") % {"name": lead.contact_name},
            body="\n".join(_lead_summary(lead)),
            url=reverse("leads:detail", args=[lead.pk]),
            payload={"lead_id": lead.pk},
            dedupe_key=f"lead:{lead.pk}:repeat{lead.repeat_count}:{assignee.pk}:in_app",
        )


def _decide(lead: Lead, rules: AssignmentRules, now: datetime) -> assignment.Decision:
    """Run the engine on the live picture and put the chosen rep on the (unsaved) lead; a lead
    nobody can take is marked with why (L11)."""
    decision = assignment.decide_lead(lead, rules, now)
    if decision.chosen_id:
        lead.assignee = User.objects.select_related("rep").get(pk=decision.chosen_id)
        lead.assigned_at, lead.status = now, LeadStatus.ASSIGNED
    lead.unassigned_reason = "" if decision.chosen_id else decision.reason[:200]
    return decision


def _store_decision(lead: Lead, rules: AssignmentRules, decision: assignment.Decision, now: datetime) -> AssignmentDecision:
    return AssignmentDecision.objects.create(
        lead=lead,
        kind=DecisionKind.AUTO,
        rules=rules,
        chosen_id=decision.chosen_id,
        decided_at=now,
        candidates=decision.ranked,
        skipped=decision.skipped,
        eligible_count=decision.eligible_count,
        tie_size=decision.tie_size,
        duration_us=decision.duration_us,
        basis=decision.basis,
        reason=decision.reason[:200],
        context=decision.context,
    )


def _after_assignment(lead: Lead, stored: AssignmentDecision, rules: AssignmentRules, customer_created: bool) -> None:
    if customer_created and lead.customer_id and lead.customer.owner_id is None:
        lead.customer.owner_id = lead.assignee_id
        lead.customer.save(update_fields=["owner"])
    _notify_assignee(lead, stored, rules.ack_timeout_minutes)
    _schedule_escalation_check(lead, rules)


@functools.cache
def _lead_history():
    return Lead.history


def _save_new_lead(lead: Lead, now: datetime) -> None:
    """Insert the lead and its creation history row. simple_history's post_save handler builds a
    new manager class (inspect.getmembers) on every save — ~2 ms of CPU on the intake hot path —
    so the row is written through one cached manager instead: the same row (fields, history user
    from `_history_user` or the request), just cheaper."""
    lead.save_without_historical_record()
    _lead_history().bulk_history_create([lead], default_date=now)


def _consent_of(data: IntakeData, by) -> dict:
    """P1, for every door (API, form, paste, import jobs): the person's own consent as given, else
    the basis of a channel configured as collecting consent elsewhere, else the rep who entered it
    vouches for it (a relayed lead); a website lead without any is refused."""
    if data.consent_basis == ConsentBasis.NOTICE and data.consent_version and data.consent_given_at:
        return {"consent_basis": ConsentBasis.NOTICE, "consent_notice_version": data.consent_version,
                "consent_given_at": data.consent_given_at, "consent_channel": data.consent_channel[:40]}
    if SourceConsent.collected_elsewhere_for(data.source):
        return {"consent_basis": ConsentBasis.ELSEWHERE, "consent_channel": data.source}
    if by is not None:
        return {"consent_basis": ConsentBasis.ELSEWHERE, "consent_channel": f"entered_by:{by.get_username()}"[:40]}
    raise ValidationError({"consent": [consent_missing_message()]})


def lead_intake(*, data: IntakeData, by=None, now: datetime | None = None) -> IntakeResult:
    """Create and assign a lead — or, if the same phone came in within the dedupe window, record a
    repeat contact on the existing lead (L3). `by` is the rep who entered it (None: website).

    R1: the lead (and its history, and the ledger row of the rep who brought it) is written first;
    everything that can fail after that — the decision row, notifications, the escalation
    schedule — runs in a savepoint. If any of it fails, the savepoint is rolled back, the lead is
    put back to `new` and kept; the per-minute sweep assigns it later.

    O4: the decision's inputs are read and the lead is written inside the assignment lock; the
    rest of the transaction touches only rows no other intake contends for."""
    now = now or timezone.now()
    consent = _consent_of(data, by)
    # No savepoint of its own: callers that wrap it (the API stores its receipt in the same
    # transaction) roll back as a whole.
    with transaction.atomic(savepoint=False):
        # O4: the customer (a hospital department) is found or made before the lock: no other
        # intake's decision depends on it, so no other intake needs to wait for it.
        customer, customer_created = _resolve_customer(data)
        rules = AssignmentRules.live(for_update=True)  # the assignment lock, see the module docstring
        duplicate = _find_duplicate(data.phone, now, rules.dedupe_window_days)
        if duplicate is not None and duplicate.status not in CLOSED_LEAD_STATUSES:
            _record_repeat(duplicate, data, by, now)
            return IntakeResult(duplicate, created=False, duplicate=True)
        lead = Lead(
            customer=customer,
            contact_name=data.contact_name,
            phone=data.phone,
            product_model=data.product_model,
            product=data.product,
            hospital=data.hospital,
            hospital_name=data.hospital_name,
            hospital_grade=data.hospital_grade,
            source=data.source,
            note=data.note,
            introduced_by=by,
            previous_lead=duplicate,  # R8: a repeat contact on a closed lead opens a new, linked lead
            created_at=now,
            **consent,
        )
        decision = _decide_safely(lead, rules, now)
        if by is not None:
            lead._history_user = by
        _save_new_lead(lead, now)
        if by is not None:
            activity_append(
                rep=by, kind=ActivityKind.LEAD_INTRODUCED, customer=lead.customer, subject=lead, occurred_at=now, facts={"source": lead.source}
            )
        stored = _assignment_effects(lead, rules, decision, now, customer_created)
    return IntakeResult(lead, created=True, decision=stored)


def _decide_safely(lead: Lead, rules: AssignmentRules, now: datetime) -> assignment.Decision | None:
    """The engine is pure Python over rows already read; a bug in it must not lose the lead (R1).
    A database error is not caught here: on PostgreSQL it has aborted the transaction, so the
    request answers 503 and the sender retries."""
    try:
        return _decide(lead, rules, now)
    except DatabaseError:
        raise
    except Exception:  # noqa: BLE001 - the lead is kept unassigned, the sweep retries it
        logger.exception("assignment decision failed for a new lead; it stays new for the sweep")
        _unassign_in_memory(lead)
        return None


def _unassign_in_memory(lead: Lead) -> None:
    lead.assignee, lead.assigned_at, lead.status = None, None, LeadStatus.NEW


def _assignment_effects(lead: Lead, rules, decision, now: datetime, customer_created: bool) -> AssignmentDecision | None:
    """Decision row, owner, notifications and the escalation schedule in a savepoint (R1). On any
    failure they are rolled back together and the lead goes back to `new` for the sweep."""
    if decision is None:
        return None
    try:
        with transaction.atomic():
            stored = _store_decision(lead, rules, decision, now)
            if lead.assignee_id:
                _after_assignment(lead, stored, rules, customer_created)
            else:
                alert_nobody_eligible(lead, stored.context)
            return stored
    except Exception:  # noqa: BLE001 - whatever failed, the lead itself is kept
        logger.exception("assignment of lead %s failed after it was saved; it stays new for the sweep", lead.pk)
        if lead.assignee_id:
            _unassign_in_memory(lead)
            lead._change_reason = "分配失败，等待重试"
            lead.save(update_fields=["assignee", "assigned_at", "status"])
        return None


def alert_nobody_eligible(lead: Lead, context: dict) -> None:
    """L11: nobody can take the lead — tell the responsible supervisor at once (the team of the
    owner, else of the territory; the directors when there is none) on the escalation channels.
    One alert per lead and recipient: the sweep retries the lead every minute without re-alerting."""
    team_ids = [(context.get("owner") or {}).get("team_id"), *(context.get("territory") or {}).get("team_ids", [])]
    ids = [pk for pk in team_ids if pk]
    teams = {team.pk: team for team in Team.objects.filter(pk__in=ids, supervisor__is_active=True).select_related("supervisor__rep")}
    team = next((teams[pk] for pk in ids if pk in teams), None)
    recipients = [team.supervisor] if team else list(User.objects.select_related("rep").filter(rep__role=Role.DIRECTOR, is_active=True))
    for recipient in recipients:
        _notify(
            recipient,
            event="escalation",
            lead=lead,
            title=_("线索无人可接：%(who)s") % {"who": lead.hospital_display or lead.contact_name},
            summary=_lead_summary(lead),
            note=lead.unassigned_reason or _("无人可接"),
            url=reverse("leads:detail", args=[lead.pk]),
            key="nobody",
        )


def lead_assign_pending(*, lead_id: int, now: datetime | None = None) -> bool:
    """Retry the engine for a lead nobody could take at intake (everyone off duty or full), or
    whose assignment failed after it was saved (R1)."""
    now = now or timezone.now()
    with transaction.atomic():
        rules = AssignmentRules.live(for_update=True)
        lead = (
            Lead.objects.select_for_update(of=("self",)).select_related("product", "customer", "hospital")
            .filter(pk=lead_id, status=LeadStatus.NEW, assignee__isnull=True).first()
        )
        if lead is None:
            return False
        marked = lead.unassigned_reason
        decision = _decide(lead, rules, now)
        if not decision.chosen_id:
            if lead.unassigned_reason != marked:
                lead.save(update_fields=["unassigned_reason"])
            alert_nobody_eligible(lead, decision.context)  # once per lead and recipient (dedupe key)
            return False
        # The escalation clock starts now, at the assignment, not at intake (L11).
        lead.save(update_fields=["assignee", "assigned_at", "status", "unassigned_reason"])
        stored = _store_decision(lead, rules, decision, now)
        _after_assignment(lead, stored, rules, customer_created=False)
    return True


class ReassignNeedsOverride(LeadActionError):
    """L12: the target rep cannot take a lead right now (off duty, on leave, off hours, full);
    the supervisor may still insist — with a reason — by confirming the override."""

    def __init__(self, warnings: list[str]):
        self.warnings = warnings
        super().__init__(_("%(warnings)s。确需改派请勾选「仍然改派」并填写原因。") % {"warnings": "；".join(warnings)})


REASSIGN_WARNINGS = {
    assignment.OFF_DUTY: _lazy("%(name)s 当前不在岗"),
    assignment.ON_LEAVE: _lazy("%(name)s 正在休假"),
    assignment.OFF_HOURS: _lazy("%(name)s 不在工作时间"),
    assignment.AT_CAPACITY: _lazy("%(name)s 待办已满（%(open)s/%(capacity)s）"),
}


def reassign_warnings(candidate: assignment.Candidate | None, name: str) -> list[str]:
    """Why the target rep would not be picked by the engine right now (empty: nothing to warn)."""
    if candidate is None:
        return []
    reasons = [assignment.OFF_DUTY] if not candidate.on_duty else []
    if candidate.unavailable:
        reasons.append(candidate.unavailable)
    if candidate.open_count >= candidate.capacity:
        reasons.append(assignment.AT_CAPACITY)
    params = {"name": name, "open": candidate.open_count, "capacity": candidate.capacity}
    return [str(REASSIGN_WARNINGS[reason]) % params for reason in reasons]


def lead_reassign(*, lead: Lead, to_user, by, reason: str = "", override: bool = False) -> AssignmentDecision:
    """A supervisor moves a lead to another rep (recorded as a manual decision, L4). A target who
    is off duty, on leave, off hours or full is refused with the warnings unless `override` and a
    reason are given (L12); the override is recorded on the decision."""
    rep = getattr(to_user, "rep", None)
    if rep is None or rep.role != Role.REP or not to_user.is_active:
        raise LeadActionError(_("只能改派给在职的销售代表"))
    if not may_hand_to(by, to_user):
        raise LeadActionError(_("只能改派给本团队的销售代表"))
    now = timezone.now()
    with transaction.atomic():
        rules = AssignmentRules.live(for_update=True)
        lead = Lead.objects.select_for_update(of=("self",)).select_related("product", "customer", "hospital").get(pk=lead.pk)
        _require_write(lead, by)
        if lead.assignee_id == to_user.pk:
            raise LeadActionError(_("线索已经由 %(name)s 负责") % {"name": rep.display_name})
        previous_id = lead.assignee_id
        candidates = assignment.load_candidates(availability_at(now))
        facts, weights = assignment.lead_facts(lead, candidates), assignment.Weights.of(rules)
        chosen = next((c for c in candidates if c.user_id == to_user.pk), None)
        still_running = lead.status not in (LeadStatus.CONVERTED, LeadStatus.CLOSED)
        warnings = reassign_warnings(chosen, rep.display_name) if still_running else []
        if warnings and not override:
            raise ReassignNeedsOverride(warnings)
        if warnings and not reason.strip():
            raise LeadActionError(_("改派给当前不可接的销售，请填写原因"))
        breakdown = [assignment.breakdown(chosen, facts, weights) | {"rank": 1}] if chosen else []
        lead.assignee = User.objects.select_related("rep").get(pk=to_user.pk)
        if lead.is_open:
            lead.status, lead.assigned_at = LeadStatus.ASSIGNED, now
            lead.acknowledged_at, lead.acknowledged_via, lead.escalated_at = None, "", None
            lead.unassigned_reason = ""
        lead._history_user = by
        lead._change_reason = (reason or _("主管改派"))[:100]
        lead.save()
        stored = AssignmentDecision.objects.create(
            lead=lead,
            kind=DecisionKind.MANUAL,
            rules=rules,
            chosen=to_user,
            previous_assignee_id=previous_id,
            decided_by=by,
            decided_at=now,
            reason=reason[:200],
            candidates=breakdown,
            basis="",
            context={"override": warnings} if warnings else {},
        )
        if lead.is_open:
            _notify_assignee(lead, stored, rules.ack_timeout_minutes)
            _schedule_escalation_check(lead, rules)
        if previous_id:
            notification_enqueue(
                recipient=User.objects.get(pk=previous_id),
                title=_("线索已改派：%(name)s") % {"name": lead.contact_name},
                body=_("%(by)s 将线索改派给 %(to)s") % {"by": by.get_full_name() or by.username, "to": rep.display_name},
                url=reverse("leads:mine"),
                payload={"lead_id": lead.pk},
                dedupe_key=f"lead:{lead.pk}:d{stored.pk}:moved:{previous_id}:in_app",
            )
    return stored


# --- Acknowledgement and escalation (L6) ---------------------------------------------------------


def _require_write(lead: Lead, by) -> None:
    """R8: the write scope checked by the service itself, whatever door the call came through."""
    if not can_change_lead(by, lead):
        raise LeadActionError(_("只能处理本团队的线索"))


def lead_acknowledge(*, lead: Lead, by, via: str = "button", now: datetime | None = None) -> bool:
    """The assignee's response. Idempotent: only the first acknowledgement counts."""
    now = now or timezone.now()
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.assignee_id != by.pk:
            raise LeadActionError(_("只有负责人可以接收这条线索"))
        if lead.acknowledged_at:
            return False
        lead.acknowledged_at, lead.acknowledged_via = now, via[:12]
        if lead.status == LeadStatus.ASSIGNED:
            lead.status = LeadStatus.ACKNOWLEDGED
        lead._history_user = by
        lead.save(update_fields=["acknowledged_at", "acknowledged_via", "status"])
        activity_append(
            rep=by,
            kind=ActivityKind.LEAD_ACKNOWLEDGED,
            customer=lead.customer,
            subject=lead,
            occurred_at=now,
            facts={"seconds_to_ack": lead.seconds_to_ack or 0},
        )
    return True


def lead_escalate(*, lead_id: int, now: datetime | None = None) -> bool:
    """Escalate one overdue lead: notify the supervisor and ask the call robot to dial. The
    conditional update on escalated_at is the claim, so two workers never escalate twice."""
    now = now or timezone.now()
    rules = AssignmentRules.live()
    with transaction.atomic():
        lead = claim(
            Lead,
            lead_id,
            where={
                "status": LeadStatus.ASSIGNED,
                "acknowledged_at__isnull": True,
                "escalated_at__isnull": True,
                "assigned_at__lte": now - timedelta(minutes=rules.ack_timeout_minutes),
            },
            changes={"escalated_at": now},
            reason="超时未接收，升级",
        )
        if lead is None:
            return False
        decision = lead.decisions.order_by("-decided_at", "-pk").first()
        key = f"esc{decision.pk if decision else 0}"
        assignee = User.objects.select_related("rep", "rep__team").get(pk=lead.assignee_id)
        waited = int((now - lead.assigned_at).total_seconds() // 60)
        detail = _("%(rep)s 已 %(minutes)s 分钟未接收") % {"rep": assignee.get_full_name() or assignee.username, "minutes": waited}
        summary = _lead_summary(lead)
        for supervisor in supervisors_of(assignee):
            _notify(
                supervisor,
                event="escalation",
                lead=lead,
                title=_("线索超时未接收：%(who)s") % {"who": lead.hospital_display or lead.contact_name},
                summary=summary,
                note=detail,
                url=reverse("leads:detail", args=[lead.pk]),
                key=key,
            )
        notification_enqueue(
            recipient=assignee,
            title=_("线索已超时升级：%(name)s") % {"name": lead.contact_name},
            body=_("已通知主管，请尽快接收并联系客户"),
            url=ack_path(lead, assignee),
            payload={"lead_id": lead.pk},
            dedupe_key=f"lead:{lead.pk}:{key}:{assignee.pk}:in_app",
        )
        _request_robot_call(lead, key)
    return True


def _request_robot_call(lead: Lead, key: str) -> DialerCall | None:
    robot = next((row for row in assignment.cached_routing(assignment._channels, _load_channel_settings) if row[0] == Channel.CALL_ROBOT), None)
    if (robot is not None and not (robot[1] and robot[3])) or not channel_configured(Channel.CALL_ROBOT):
        return None
    call = DialerCall.objects.create(lead=lead, external_ref=f"lead-{lead.pk}-{key}")
    call.notification = notification_enqueue(
        recipient=None,
        channel=Channel.CALL_ROBOT,
        title=_("外呼首呼核实：%(name)s") % {"name": lead.contact_name},
        payload={
            "lead_id": lead.pk,
            "call": {
                "external_ref": call.external_ref,
                "callee": lead.phone,
                "script_id": DIALER_SCRIPT,
                "variables": {"customer_name": lead.contact_name, "hospital": lead.hospital_display, "product_model": lead.product_model},
            },
        },
        dedupe_key=f"lead:{lead.pk}:{key}:dial",
    )
    call.save(update_fields=["notification"])
    return call


def leads_sweep(now: datetime | None = None) -> dict[str, int]:
    """Every minute (schedule 'leads.sweep'): escalate overdue leads, retry unassigned ones."""
    now = now or timezone.now()
    rules = AssignmentRules.live()
    overdue = list(
        Lead.objects.overdue(now, rules.ack_timeout_minutes).filter(escalated_at__isnull=True).values_list("pk", flat=True)[:500]
    )
    escalated = sum(1 for lead_id in overdue if _guarded(lead_escalate, lead_id=lead_id, now=now))
    pending = list(
        Lead.objects.filter(status=LeadStatus.NEW, assignee__isnull=True, created_at__gte=now - timedelta(days=7)).values_list("pk", flat=True)[:200]
    )
    assigned = sum(1 for lead_id in pending if _guarded(lead_assign_pending, lead_id=lead_id, now=now))
    return {"escalated": escalated, "assigned": assigned}


def _guarded(step, **kwargs) -> bool:
    """One lead's failure (a refused write, a lock timeout) must not stop the sweep for the rest."""
    try:
        return step(**kwargs)
    except Exception:  # noqa: BLE001 - logged; the lead is retried at the next sweep
        logger.exception("sweep step %s failed for %s", step.__name__, kwargs.get("lead_id"))
        return False


# --- Contact attempts (L7) -----------------------------------------------------------------------


CONTACT_PROOFS = ("phone_system", "visit_evidence")


def contact_attempt_record(
    *, lead: Lead, kind: str, by, duration_seconds: int = 0, outcome: str = ContactOutcome.ANSWERED, note: str = "", occurred_at: datetime | None = None,
    proof: str = "",
) -> ContactAttempt:
    """Log a rep's call (with duration) or on-site visit. A call of ≥ 60 s or a visit is an
    effective contact; the first one sets first_effective_contact_at. Every attempt is in the ledger."""
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise LeadActionError(_("联系时间不能在未来"))
    if kind == ContactKind.VISIT:
        outcome, duration_seconds = ContactOutcome.ONSITE, 0
    elif outcome == ContactOutcome.ONSITE:
        raise LeadActionError(_("电话的结果不能是「已到院」"))
    with transaction.atomic():
        lead = Lead.objects.select_for_update(of=("self",)).select_related("customer").get(pk=lead.pk)
        _require_write(lead, by)
        effective = kind == ContactKind.VISIT or duration_seconds >= EFFECTIVE_CALL_SECONDS
        # T8: what a rep types is self-reported; a phone-system record or visit evidence proves it.
        verification = ContactVerification.VERIFIED if proof in CONTACT_PROOFS else ContactVerification.SELF_REPORTED
        attempt = ContactAttempt(
            lead=lead, kind=kind, source=ContactSource.REP, by=by, occurred_at=occurred_at,
            duration_seconds=duration_seconds, outcome=outcome, effective=effective, note=note[:500],
            verification=verification, proof=proof if proof in CONTACT_PROOFS else "",
        )
        attempt.full_clean()
        attempt._history_user = by
        attempt.save()
        if kind == ContactKind.CALL:
            facts = {"duration_seconds": duration_seconds, "effective": effective, "lead_id": lead.pk, "verification": verification}
            activity_append(rep=by, kind=ActivityKind.CALL, customer=lead.customer, subject=attempt, occurred_at=occurred_at, facts=facts)
        else:
            facts = {"lead_id": lead.pk, "verification": verification}
            activity_append(rep=by, kind=ActivityKind.VISIT_CHECKIN, customer=lead.customer, subject=attempt, occurred_at=occurred_at, facts=facts)
        fields = ["last_contact_at"]
        lead.last_contact_at = max(filter(None, [lead.last_contact_at, occurred_at]))
        if lead.assignee_id == by.pk and not lead.acknowledged_at:
            # Calling the customer is a response too: it acknowledges the lead.
            lead.acknowledged_at, lead.acknowledged_via = now, "contact"
            fields += ["acknowledged_at", "acknowledged_via"]
            if lead.status == LeadStatus.ASSIGNED:
                lead.status = LeadStatus.ACKNOWLEDGED
            activity_append(
                rep=by, kind=ActivityKind.LEAD_ACKNOWLEDGED, customer=lead.customer, subject=lead, occurred_at=now,
                facts={"seconds_to_ack": lead.seconds_to_ack or 0},
            )
        if effective and (lead.first_effective_contact_at is None or occurred_at < lead.first_effective_contact_at):
            lead.first_effective_contact_at = occurred_at
            fields.append("first_effective_contact_at")
            if lead.status in OPEN_LEAD_STATUSES:
                lead.status = LeadStatus.CONTACTED
        lead._history_user = by
        lead.save(update_fields=sorted(set(fields + ["status"])))
    return attempt


def lead_close(*, lead: Lead, by, status: str, reason: str = "") -> Lead:
    if status not in (LeadStatus.CONVERTED, LeadStatus.CLOSED):
        raise LeadActionError(_("只能标记为已转化或已关闭"))
    if status == LeadStatus.CLOSED and not reason.strip():
        raise LeadActionError(_("关闭线索请填写原因"))
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        _require_write(lead, by)
        lead.status, lead.closed_at, lead.close_reason = status, timezone.now(), reason.strip()[:200]
        lead._history_user = by
        lead.save(update_fields=["status", "closed_at", "close_reason"])
    return lead


# --- The call robot's callback (L6) ------------------------------------------------------------


def call_event_apply(event, *, now: datetime | None = None) -> DialerCall | None:
    """Apply one robot result (already deduplicated on event_id by the caller). Returns None for
    an unknown external_ref. The robot's call is recorded as a contact attempt and shown on the
    timeline, but it is not a rep's follow-up: it sets neither last_contact_at nor the first
    effective contact, and it writes no ledger row (the ledger is what reps do)."""
    now = now or timezone.now()
    call = DialerCall.objects.select_for_update(of=("self",)).select_related("lead").filter(external_ref=event.external_ref).first()
    if call is None:
        return None
    call.status = event.status if event.status in DialerStatus.values else DialerStatus.FAILED
    call.attempt = max(call.attempt, event.attempt)
    call.talk_seconds = event.talk_seconds
    call.answered_at, call.ended_at = event.answered_at, event.ended_at
    call.hangup_by, call.intent = event.hangup_by, event.intent
    call.transcript, call.recording_url = event.transcript, event.recording_url
    call.last_event_at = now
    call.save()
    ContactAttempt.objects.create(
        lead=call.lead,
        kind=ContactKind.CALL,
        source=ContactSource.ROBOT,
        occurred_at=event.answered_at or event.ended_at or now,
        duration_seconds=event.talk_seconds,
        outcome=event.status,
        effective=False,
        note=_("外呼机器人第 %(n)s 次呼叫，意向 %(intent)s") % {"n": event.attempt, "intent": event.intent or "—"},
        dialer_call=call,
        verification=ContactVerification.VERIFIED,  # T8: the robot's own callback proves the call
        proof="call_robot",
    )
    lead = call.lead
    result = _("外呼结果：%(status)s %(seconds)s 秒") % {"status": call.get_status_display(), "seconds": call.talk_seconds}
    recipients = []
    if lead.assignee_id:
        assignee = User.objects.select_related("rep", "rep__team").get(pk=lead.assignee_id)
        recipients = [assignee, *supervisors_of(assignee)]
    for recipient in recipients:
        notification_enqueue(
            recipient=recipient,
            title=f"{result} · {lead.contact_name}",
            body="\n".join(_lead_summary(lead)),
            url=reverse("leads:detail", args=[lead.pk]),
            payload={"lead_id": lead.pk},
            dedupe_key=f"lead:{lead.pk}:{event.event_id}:{recipient.pk}:in_app"[:200],
        )
    return call


# --- Rules (L4, L8) ----------------------------------------------------------------------------


RULE_FIELDS = (
    "weight_grade", "weight_product_line", "weight_workload", "weight_territory", "owner_policy", "tie_band",
    "ack_timeout_minutes", "dedupe_window_days",
)


def rules_initial(rules: AssignmentRules) -> dict:
    """A new draft starts as a copy of `rules` (the live version)."""
    return {name: getattr(rules, name) for name in RULE_FIELDS}


def rules_create_draft(
    *, by, weight_grade: int, weight_product_line: int, weight_workload: int, ack_timeout_minutes: int, dedupe_window_days: int,
    note: str = "", **second_wave,
) -> AssignmentRules:
    """`second_wave`: weight_territory, owner_policy, tie_band (the model's defaults when left out)."""
    unknown = set(second_wave) - {"weight_territory", "owner_policy", "tie_band"}
    if unknown:
        raise TypeError(f"unknown rule fields: {sorted(unknown)}")
    with transaction.atomic():
        last = AssignmentRules.objects.select_for_update().order_by("-version").first()
        rules = AssignmentRules(
            version=(last.version if last else 0) + 1,
            status=RulesStatus.DRAFT,
            weight_grade=weight_grade,
            weight_product_line=weight_product_line,
            weight_workload=weight_workload,
            ack_timeout_minutes=ack_timeout_minutes,
            dedupe_window_days=dedupe_window_days,
            note=note[:200],
            created_by=by,
            **second_wave,
        )
        rules.full_clean()
        rules._history_user = by
        rules.save()
    return rules


def rules_publish(*, rules: AssignmentRules, by) -> AssignmentRules:
    """Make a draft live and retire the previous version (one live version at a time)."""
    with transaction.atomic():
        live = AssignmentRules.live(for_update=True)
        rules = AssignmentRules.objects.select_for_update().get(pk=rules.pk)
        if rules.status != RulesStatus.DRAFT:
            raise LeadActionError(_("只能发布草稿版本"))
        rules.full_clean()
        live.status = RulesStatus.RETIRED
        live._history_user = by
        live.save(update_fields=["status"])
        rules.status, rules.published_at, rules.published_by = RulesStatus.LIVE, timezone.now(), by
        rules._history_user = by
        rules.save(update_fields=["status", "published_at", "published_by"])
    return rules
