"""The lead's timeline (L7): intake → assigned → notified → acknowledged → escalated → first
effective contact, with the time of each step and how long it took. Built from the records that
prove each step (decisions, outbox rows, contact attempts, robot calls), so it cannot drift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from salesops.models import Notification, NotificationStatus

from .models import ContactKind, ContactSource, ContactVerification, DecisionKind, Lead, first_verified_contact


def humanize_duration(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    seconds = delta.total_seconds()
    if seconds < 0:
        return "—"
    if seconds < 1:
        return _("%(ms)s 毫秒") % {"ms": int(seconds * 1000)}
    seconds = int(seconds)
    if seconds < 60:
        return _("%(s)s 秒") % {"s": seconds}
    if seconds < 3600:
        return _("%(m)s 分 %(s)s 秒") % {"m": seconds // 60, "s": seconds % 60}
    if seconds < 86400:
        return _("%(h)s 小时 %(m)s 分") % {"h": seconds // 3600, "m": seconds % 3600 // 60}
    return _("%(d)s 天 %(h)s 小时") % {"d": seconds // 86400, "h": seconds % 86400 // 3600}


def _person(user) -> str:
    return (user.get_full_name() or user.username) if user else "—"


@dataclass
class Event:
    at: datetime
    kind: str  # intake, assigned, notified, acknowledged, escalated, contact, effective, repeat, robot, closed, failed
    label: str
    detail: str = ""
    since_intake: str = ""
    since_previous: str = ""


@dataclass
class Milestone:
    label: str
    at: datetime | None
    took: str  # from the previous milestone


def _evidenced_visits(lead: Lead) -> list:
    if not lead.customer_id:
        return []
    from django.db.models import Count

    from visits.models import TaskStatus, VisitTask

    return list(
        VisitTask.objects.filter(customer_id=lead.customer_id, status=TaskStatus.COMPLETED, completed_at__gte=lead.created_at)
        .select_related("rep", "template")
        .annotate(evidence_count=Count("evidence"))
        .order_by("completed_at")[:20]
    )


def _first_verified_at(lead: Lead) -> datetime | None:
    return Lead.objects.filter(pk=lead.pk).annotate(verified_at=first_verified_contact()).values_list("verified_at", flat=True).first()


def timeline(lead: Lead) -> tuple[list[Event], list[Milestone]]:
    events: list[Event] = [
        Event(lead.created_at, "intake", _("进线"), _("来源：%(source)s") % {"source": lead.get_source_display()}
              + (_("，录入：%(who)s") % {"who": _person(lead.introduced_by)} if lead.introduced_by_id else ""))
    ]
    for decision in lead.decisions.select_related("chosen", "decided_by", "rules").order_by("decided_at", "pk"):
        if decision.kind == DecisionKind.MANUAL:
            label = _("%(by)s 改派给 %(to)s") % {"by": _person(decision.decided_by), "to": _person(decision.chosen)}
            events.append(Event(decision.decided_at, "assigned", label, decision.reason))
        elif decision.chosen_id:
            top = decision.candidates[0] if decision.candidates else {}
            detail = _("得分 %(score)s · 规则 v%(version)s · 决策 %(ms).1f 毫秒") % {
                "score": top.get("score", "—"), "version": decision.rules.version if decision.rules else "—", "ms": decision.duration_us / 1000
            }
            events.append(Event(decision.decided_at, "assigned", _("自动分配给 %(to)s") % {"to": _person(decision.chosen)}, detail))
        else:
            skipped = decision.skipped or {}
            detail = _("休息 %(off)s 人，满负荷 %(full)s 人") % {"off": skipped.get("off_duty", 0), "full": skipped.get("at_capacity", 0)}
            events.append(Event(decision.decided_at, "failed", _("暂无可分配的销售"), detail))
    notifications = list(
        Notification.objects.filter(dedupe_key__startswith=f"lead:{lead.pk}:")
        .select_related("recipient")
        .order_by("created_at", "pk")
    )
    for notification in notifications:
        who = _person(notification.recipient) if notification.recipient_id else _("外呼机器人")
        channel = notification.get_channel_display()
        if notification.status == NotificationStatus.DELIVERED and notification.delivered_at:
            events.append(Event(notification.delivered_at, "notified", _("已通知 %(who)s（%(channel)s）") % {"who": who, "channel": channel}, notification.title))
        elif notification.status == NotificationStatus.FAILED:
            events.append(Event(notification.created_at, "failed", _("通知失败：%(who)s（%(channel)s）") % {"who": who, "channel": channel}, notification.last_error[:120]))
        else:
            detail = _("第 %(n)s 次尝试失败，稍后重试") % {"n": notification.attempts} if notification.attempts else ""
            events.append(Event(notification.created_at, "notified", _("待发送：%(who)s（%(channel)s）") % {"who": who, "channel": channel}, detail))
    if lead.acknowledged_at:
        via = {"link": _("消息链接"), "button": _("接收按钮"), "contact": _("联系客户")}.get(lead.acknowledged_via, lead.acknowledged_via)
        events.append(Event(lead.acknowledged_at, "acknowledged", _("%(who)s 已接收") % {"who": _person(lead.assignee)}, via))
    if lead.escalated_at:
        events.append(Event(lead.escalated_at, "escalated", _("超时未接收，已升级"), _("通知主管，外呼机器人首呼核实")))
    for attempt in lead.contact_attempts.select_related("by").order_by("occurred_at", "pk"):
        if attempt.source == ContactSource.ROBOT:
            label = _("外呼机器人：%(outcome)s %(seconds)s 秒") % {"outcome": attempt.get_outcome_display(), "seconds": attempt.duration_seconds}
            events.append(Event(attempt.occurred_at, "robot", label, attempt.note))
            continue
        if attempt.kind == ContactKind.VISIT:
            label = _("%(who)s 到院拜访") % {"who": _person(attempt.by)}
        else:
            label = _("%(who)s 电话 %(duration)s（%(outcome)s）") % {
                "who": _person(attempt.by), "duration": humanize_duration(timedelta(seconds=attempt.duration_seconds)) or "0", "outcome": attempt.get_outcome_display()
            }
        is_first = lead.first_effective_contact_at is not None and attempt.effective and attempt.occurred_at == lead.first_effective_contact_at
        kind = "effective" if is_first else "contact"
        label = f"{label} · {attempt.get_verification_display()}"  # T8: 自报 or 已核实
        detail = (_("首次有效联系") + (" · " if attempt.note else "") if is_first else "") + attempt.note
        events.append(Event(attempt.occurred_at, kind, label, detail))
    # T8: a completed visit to the lead's customer is contact proven by its evidence (verified).
    for task in _evidenced_visits(lead):
        label = _("%(who)s 完成拜访（%(template)s）· %(mark)s") % {
            "who": _person(task.rep), "template": task.template.name, "mark": ContactVerification.VERIFIED.label
        }
        events.append(Event(task.completed_at, "contact", label, _("依据：拜访证据 %(n)s 份") % {"n": task.evidence_count}))
    for repeat in lead.repeats.all():
        events.append(Event(repeat.received_at, "repeat", _("客户再次咨询（%(source)s）") % {"source": repeat.get_source_display()}, repeat.note[:120]))
    if lead.closed_at:
        events.append(Event(lead.closed_at, "closed", lead.get_status_display(), lead.close_reason))

    events.sort(key=lambda event: event.at)
    previous = lead.created_at
    for event in events:
        event.since_intake = "" if event.kind == "intake" else humanize_duration(event.at - lead.created_at)
        event.since_previous = "" if event.kind == "intake" else humanize_duration(event.at - previous)
        previous = event.at

    first_notified = min(
        (
            n.delivered_at
            for n in notifications
            if n.recipient_id == lead.assignee_id and n.delivered_at and lead.assigned_at and n.delivered_at >= lead.assigned_at
        ),
        default=None,
    )
    # Short words like 分配 mean other things elsewhere (a bonus split): give them a context.
    steps = [
        (pgettext("lead milestone", "进线"), lead.created_at),
        (pgettext("lead milestone", "分配"), lead.assigned_at),
        (pgettext("lead milestone", "通知送达"), first_notified),
        (pgettext("lead milestone", "接收"), lead.acknowledged_at),
        (pgettext("lead milestone", "升级"), lead.escalated_at),
        (pgettext("lead milestone", "首次有效联系"), lead.first_effective_contact_at),
        # T8: the same step counting verified contact only (call robot, phone system, visit evidence).
        (pgettext("lead milestone", "首次核实联系"), _first_verified_at(lead)),
    ]
    # In the order they happened (an escalation comes before a late acknowledgement), each with
    # the time since the step before it; steps not reached yet follow, without a time.
    reached = sorted(((at, label) for label, at in steps if at), key=lambda step: step[0])
    milestones, last_at = [], None
    for at, label in reached:
        milestones.append(Milestone(label, at, humanize_duration(at - last_at) if last_at else ""))
        last_at = at
    milestones += [Milestone(label, None, "") for label, at in steps if not at and label != pgettext("lead milestone", "升级")]
    return events, milestones
