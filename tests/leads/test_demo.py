"""A5 — the demo company's lead history: months of leads, fast, deterministic and idempotent."""

from __future__ import annotations

import io
import random
import statistics
import time

import pytest
from django.utils import timezone

from leads import demo
from leads.models import AssignmentDecision, ContactAttempt, Lead
from salesops.demo import DemoContext, seed_master_data
from salesops.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


def test_demo_lead_history_is_realistic_idempotent_and_fast():
    """A5: several thousand leads over ~4 months; most acknowledged within minutes, some escalated;
    calls in the ledger; rep-sourced leads introduced; a few red-light leads; a second run adds nothing."""
    ctx = DemoContext(rng=random.Random(2026), stdout=io.StringIO())
    seed_master_data(ctx)
    started = time.perf_counter()
    demo.seed(ctx)
    elapsed = time.perf_counter() - started
    assert elapsed < 60, elapsed
    leads = Lead.objects.count()
    assert leads > 2500
    first = Lead.objects.order_by("created_at").first().created_at
    assert (timezone.now() - first).days >= 110
    seconds = [lead.seconds_to_ack for lead in Lead.objects.exclude(acknowledged_at=None).only("assigned_at", "acknowledged_at")]
    assert statistics.median(seconds) < 90
    assert Lead.objects.filter(escalated_at__isnull=False).count() > leads * 0.05
    assert 3 <= Lead.objects.not_followed_up(timezone.now()).count() <= 12
    assert AssignmentDecision.objects.count() == leads
    introduced = Activity.objects.filter(kind=ActivityKind.LEAD_INTRODUCED)
    assert introduced.count() == Lead.objects.exclude(introduced_by=None).count() > 100
    assert Activity.objects.filter(kind=ActivityKind.CALL).count() == ContactAttempt.objects.filter(kind="call", source="rep").count() > 1000
    assert Lead.history.count() == leads

    counts = (Lead.objects.count(), Activity.objects.count(), ContactAttempt.objects.count())
    again = DemoContext(rng=random.Random(2026), stdout=io.StringIO())
    seed_master_data(again)
    demo.seed(again)
    assert (Lead.objects.count(), Activity.objects.count(), ContactAttempt.objects.count()) == counts
