"""K4: the every-minute scoring sweep costs what changed. It keeps a cursor over the activity
ledger: a second sweep with nothing new reads a few indexed probes and writes nothing; a proof
recorded after the cursor is still scored; a lead closed as junk later still reverses its points."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from leads.intake import IntakeData
from leads.models import LeadStatus
from leads.services import lead_close, lead_intake
from scoring.models import Behaviour, Contribution, ContributionReason, SweepMark
from scoring.services import scoring_sweep

from ..factories import HospitalFactory
from .factories import visit

pytestmark = pytest.mark.django_db


def test_idle_sweep_does_no_work_and_new_rows_after_the_cursor_are_scored(alice, customer, django_assert_max_num_queries):
    """K4: after the cursor has moved past the ledger, an idle sweep runs a handful of probes, reads
    no contribution and inserts nothing; a proof appended afterwards is scored by the next sweep."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            visit(rep=alice, customer=customer, needs_count=3)
        assert scoring_sweep()["contributions"] == 5
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        scoring_sweep()  # the rows are settled now: the cursor moves past them
        position = SweepMark.latest("scoring.points").position
        marks = SweepMark.objects.count()
        with django_assert_max_num_queries(8) as idle:
            result = scoring_sweep()
    assert result["contributions"] == 0 and SweepMark.objects.count() == marks
    sql = [query["sql"].upper() for query in idle.captured_queries]
    assert not any(statement.startswith(("INSERT", "UPDATE", "DELETE")) for statement in sql), sql
    assert not any('"SCORING_CONTRIBUTION"' in statement.split("WHERE")[0] for statement in sql), sql
    with time_machine.travel(start + timedelta(minutes=4), tick=False):
        new = visit(rep=alice, customer=customer, needs_count=3)
        assert new.pk > position
        assert scoring_sweep()["contributions"] == 1
    assert Contribution.objects.filter(activity=new, behaviour=Behaviour.NEEDS_DIAGNOSIS).exists()
    assert Contribution.objects.count() == 6


def test_a_lead_closed_as_junk_after_the_cursor_still_reverses_its_points(alice, customer):
    """K4 with T5: the cause of a reversal (a lead closed later) is a change the sweep reads, even
    though its lead_introduced proof lies before the cursor."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        hospital = HospitalFactory(name="浙江省人民医院")
        junk = lead_intake(data=IntakeData(contact_name="客户", phone="+8613800007001", hospital=hospital, hospital_name=hospital.name), by=alice).lead
        assert scoring_sweep()["contributions"] >= 1
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        scoring_sweep()
        lead_close(lead=junk, by=alice, status=LeadStatus.CLOSED, reason="空号 junk")
    with time_machine.travel(start + timedelta(minutes=4), tick=False):
        scoring_sweep()
    assert Contribution.objects.filter(behaviour=Behaviour.LEAD_INTRODUCED, points__lt=0, reason=ContributionReason.JUNK_LEAD).exists()


def test_rows_recorded_in_the_settle_margin_are_read_again_not_lost(alice, customer):
    """K4: the cursor never moves past a row younger than the settle margin (a lower id can commit
    after a higher one): such a row is read again by the next sweep, and scored once."""
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        scoring_sweep()
        recent = visit(rep=alice, customer=customer, needs_count=3)
        scoring_sweep()
        assert SweepMark.latest("scoring.points").position < recent.pk
    with time_machine.travel(start + timedelta(minutes=3), tick=False):
        scoring_sweep()
        assert SweepMark.latest("scoring.points").position >= recent.pk
    assert Contribution.objects.filter(activity=recent).count() == 1
