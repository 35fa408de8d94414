"""The activity ledger (ARCHITECTURE "The spine"): append-only, idempotent per proof."""

import pytest

from salesops.ledger import activity_append
from salesops.models import Activity, ActivityKind, LedgerIsAppendOnly

from ..factories import CustomerFactory, HospitalFactory


@pytest.fixture
def activity(alice):
    return activity_append(rep=alice, kind=ActivityKind.PHOTO, customer=CustomerFactory(owner=alice))


def test_ledger_refuses_update(activity):
    """A2/V5: rows are never updated — instance save, queryset update and bulk_update all refuse."""
    activity.facts = {"forged": True}
    with pytest.raises(LedgerIsAppendOnly):
        activity.save()
    with pytest.raises(LedgerIsAppendOnly):
        Activity.objects.filter(pk=activity.pk).update(kind=ActivityKind.APPROVAL)
    with pytest.raises(LedgerIsAppendOnly):
        Activity.objects.bulk_update([activity], ["facts"])
    activity.refresh_from_db()
    assert activity.facts == {}


def test_ledger_refuses_delete(activity):
    """A2/V5: rows are never deleted."""
    with pytest.raises(LedgerIsAppendOnly):
        activity.delete()
    with pytest.raises(LedgerIsAppendOnly):
        Activity.objects.all().delete()
    assert Activity.objects.filter(pk=activity.pk).exists()


def test_same_proof_is_appended_once(alice):
    """S2: appending the same subject twice returns the first row."""
    hospital = HospitalFactory()
    first = activity_append(rep=alice, kind=ActivityKind.DOCUMENT, subject=hospital)
    second = activity_append(rep=alice, kind=ActivityKind.DOCUMENT, subject=hospital)
    assert first.pk == second.pk
    assert Activity.objects.count() == 1
    assert first.team_id == alice.rep.team_id


def test_unknown_kind_is_refused(alice):
    with pytest.raises(ValueError):
        activity_append(rep=alice, kind="made_up")
