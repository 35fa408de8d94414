"""Dashboards workflows: interventions opened and closed, TV screens revoked, notifications sent
through the outbox. Each function validates, saves and enqueues in one transaction."""

from __future__ import annotations

from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from salesops.access import sees_everything
from salesops.delivery import channel_configured
from salesops.models import Channel, Role
from salesops.notifications import notification_enqueue

from .models import Intervention, InterventionStatus, TvScreen, new_screen_token

User = get_user_model()


def may_choose_contact_basis(user) -> bool:
    """T8: the director's choice — not ops (a superuser ops account reads as director elsewhere)."""
    from salesops.access import role_of

    return role_of(user) == Role.DIRECTOR and getattr(getattr(user, "rep", None), "role", None) != Role.OPS


@transaction.atomic
def contact_basis_set(*, basis: str, by) -> Threshold:
    """T8: the director chooses which contact KPI 1 and its alarm count (all, self-reported
    included, or verified only). The threshold row keeps the change in its history."""
    from .models import CONTACT_BASIS_CHOICES, Kpi, Threshold

    if not may_choose_contact_basis(by):
        raise PermissionDenied("only the director chooses the contact basis")
    if basis not in dict(CONTACT_BASIS_CHOICES):
        raise ValidationError({"contact_basis": _("首次有效联系口径：请选择“全部（含销售自报）”或“仅已核实”。")})
    threshold = Threshold.objects.select_for_update().filter(kpi=Kpi.LEAD_TIMELINESS).first() or Threshold.default(Kpi.LEAD_TIMELINESS)
    if threshold.contact_basis != basis or threshold.pk is None:
        threshold.contact_basis = basis
        threshold._history_user = by
        threshold._change_reason = f"contact_basis={basis}"
        threshold.save()
    return threshold


def notify(*, recipient, title: str, body: str, url: str, dedupe_key: str, payload: dict | None = None) -> None:
    """In-app always; WeCom app message too when WeCom is set up and the person has a WeCom id
    (the outbox retries it)."""
    notification_enqueue(
        recipient=recipient, title=title, body=body, url=url, channel=Channel.IN_APP, payload=payload, dedupe_key=f"{dedupe_key}:in_app"
    )
    rep = getattr(recipient, "rep", None)
    if rep is not None and rep.wecom_userid and channel_configured(Channel.WECOM_APP):
        notification_enqueue(
            recipient=recipient,
            title=title,
            body=body,
            url=url,
            channel=Channel.WECOM_APP,
            payload=payload,
            dedupe_key=f"{dedupe_key}:wecom_app",
        )


def directors() -> list:
    return list(User.objects.filter(rep__role=Role.DIRECTOR, is_active=True).select_related("rep").order_by("pk"))


def fallback_owner():
    """Who owns a task when a team has no supervisor: the director (or, lacking one, a superuser)."""
    found = directors()
    if found:
        return found[0]
    return User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()


def intervention_open(
    *,
    kind: str,
    kpi: str,
    occurrence_key: str,
    owner,
    title: str,
    why: str,
    trigger_data: dict,
    period_start: date,
    period_end: date,
    due_on: date,
    team=None,
    subject_rep=None,
) -> tuple[Intervention, bool]:
    """Open the task for one anomaly occurrence, once: a second call with the same key returns the
    first task (also under a concurrent race, through the unique key)."""
    with transaction.atomic():
        intervention, created = Intervention.objects.get_or_create(
            occurrence_key=occurrence_key,
            defaults={
                "kind": kind,
                "kpi": kpi,
                "owner": owner,
                "team": team,
                "subject_rep": subject_rep,
                "title": title[:200],
                "why": why,
                "trigger_data": trigger_data,
                "period_start": period_start,
                "period_end": period_end,
                "due_on": due_on,
            },
        )
        if created:
            notify(
                recipient=owner,
                title=_("干预任务：%(title)s") % {"title": intervention.title},
                body=_("%(why)s\n请在 %(due)s 前处理并填写处理说明。") % {"why": why, "due": due_on.isoformat()},
                url=reverse("dashboards:intervention", args=[intervention.pk]),
                dedupe_key=f"dashboards:intervention:{intervention.pk}",
                payload={"intervention_id": intervention.pk, "kind": kind},
            )
    return intervention, created


def can_close_intervention(user, intervention: Intervention) -> bool:
    return intervention.owner_id == user.pk or sees_everything(user)


def intervention_close(*, intervention: Intervention, note: str, by) -> Intervention:
    """The owner (or the director) closes the task with a note saying what was done."""
    if not can_close_intervention(by, intervention):
        raise PermissionDenied
    note = (note or "").strip()
    if not note:
        raise ValidationError({"closing_note": _("请填写处理说明。")})
    with transaction.atomic():
        locked = Intervention.objects.select_for_update().get(pk=intervention.pk)
        if locked.status == InterventionStatus.CLOSED:
            raise ValidationError({"closing_note": _("该任务已关闭。")})
        locked.status = InterventionStatus.CLOSED
        locked.closing_note = note
        locked.closed_at = timezone.now()
        locked.closed_by = by
        locked._history_user = by
        locked.full_clean()
        locked.save(update_fields=["status", "closing_note", "closed_at", "closed_by"])
    return locked


def tvscreen_revoke(*, screen: TvScreen, by=None) -> TvScreen:
    """The token stops working at once; the screen row stays for the audit trail."""
    if screen.revoked_at is None:
        screen.revoked_at = timezone.now()
        screen._history_user = by
        screen.save(update_fields=["revoked_at"])
    return screen


def tvscreen_rotate(*, screen: TvScreen, by=None) -> TvScreen:
    """A new token (the old URL dies) and the screen active again."""
    screen.token = new_screen_token()
    screen.revoked_at = None
    screen._history_user = by
    screen.save(update_fields=["token", "revoked_at"])
    return screen
