"""Appending to the activity ledger (the spine; see ARCHITECTURE.md).

Call `activity_append` from a service, inside the transaction that writes the record it proves.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from .models import Activity, ActivityKind, Customer


def activity_append(
    *,
    rep,
    kind: str,
    customer: Customer | None = None,
    subject: models.Model | None = None,
    occurred_at: datetime | None = None,
    facts: dict | None = None,
) -> Activity:
    """Append one row. Idempotent per (kind, subject): appending the same proof twice returns the
    first row instead of scoring or counting it again."""
    kind = ActivityKind(kind).value
    subject_type = ContentType.objects.get_for_model(subject) if subject is not None else None
    subject_id = str(subject.pk) if subject is not None else ""
    if subject is not None:
        existing = Activity.objects.filter(kind=kind, subject_type=subject_type, subject_id=subject_id).first()
        if existing:
            return existing
    rep_profile = getattr(rep, "rep", None)
    activity = Activity(
        rep=rep,
        team_id=rep_profile.team_id if rep_profile else None,
        customer=customer,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        subject_type=subject_type,
        subject_id=subject_id,
        facts=facts or {},
    )
    try:
        with transaction.atomic():
            activity.save()
    except IntegrityError:
        # A concurrent append of the same proof won the race; theirs is the row.
        return Activity.objects.get(kind=kind, subject_type=subject_type, subject_id=subject_id)
    return activity


def activities_for(subject: models.Model):
    return Activity.objects.filter(
        subject_type=ContentType.objects.get_for_model(subject), subject_id=str(subject.pk)
    )
