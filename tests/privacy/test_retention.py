"""P5 Retention: closed leads are pseudonymised after a configurable period by the daily job;
open leads and recent closed ones are untouched; evidence follows its own longer policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from leads.models import Lead, LeadStatus
from salesops.privacy import retention_run

pytestmark = pytest.mark.django_db


def _lead(alice, phone, *, status, closed_days_ago=None):
    now = timezone.now()
    closed_at = now - timedelta(days=closed_days_ago) if closed_days_ago is not None else None
    return Lead.objects.create(contact_name="钱主任", phone=phone, note="家里电话 0571-87650000", status=status, assignee=alice,
                               assigned_at=now, closed_at=closed_at, source="phone", consent_basis="elsewhere")


def test_old_closed_leads_are_pseudonymised_with_their_history(settings, alice):
    """P5 a lead closed longer ago than PRIVACY_CLOSED_LEAD_RETENTION_DAYS loses name, number and
    note — in the row and its history rows; a recent closed lead and an open lead keep theirs."""
    settings.PRIVACY_CLOSED_LEAD_RETENTION_DAYS = 365
    old = _lead(alice, "+8613957107777", status=LeadStatus.CLOSED, closed_days_ago=400)
    recent = _lead(alice, "+8613957108888", status=LeadStatus.CLOSED, closed_days_ago=100)
    open_lead = _lead(alice, "+8613957109999", status=LeadStatus.ASSIGNED)
    assert retention_run()["leads_pseudonymised"] == 1
    old.refresh_from_db()
    assert old.phone.startswith("ERASED-") and old.contact_name.startswith("已匿名") and old.note == "" and old.pseudonymised_at
    assert not Lead.history.filter(id=old.pk, phone="+8613957107777").exists()
    assert not Lead.history.filter(id=old.pk, note__contains="87650000").exists()
    assert Lead.objects.get(pk=recent.pk).phone == "+8613957108888"
    assert Lead.objects.get(pk=open_lead.pk).phone == "+8613957109999"
    assert old.status == LeadStatus.CLOSED  # the business record stays: only who it was is gone
    assert retention_run()["leads_pseudonymised"] == 0  # idempotent: a second run changes nothing


def test_retention_is_scheduled_daily():
    """P5 the job is a django-q2 schedule like the others (salesops migration 0009)."""
    schedule = Schedule.objects.get(name="salesops.privacy_retention")
    assert (schedule.func, schedule.schedule_type) == ("salesops.tasks.privacy_retention", Schedule.DAILY)


def test_evidence_has_its_own_longer_policy(settings):
    """P5 evidence is kept longer (default 10 years) and reported, never removed by the job."""
    from salesops.privacy import closed_lead_retention_days, evidence_retention_days

    assert evidence_retention_days() > closed_lead_retention_days()
    assert "evidence_past_retention" in retention_run()
