"""L7 — contact attempts and first effective contact (a call ≥ 60 s or an on-site visit); the
lead's timeline intake → assigned → notified → acknowledged → escalated → first effective contact."""

from __future__ import annotations

import pytest
import time_machine

from tests.factories import consented_intake
from leads.models import ContactAttempt, ContactKind, LeadStatus
from leads.services import lead_intake, leads_sweep
from leads.timeline import humanize_duration, timeline
from salesops.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(alice, carol, hospital_3a):
    with time_machine.travel("2026-11-27 09:00:00 +0800", tick=False):
        return lead_intake(data=consented_intake(contact_name="王主任", phone="+8613800001111", hospital=hospital_3a, hospital_name=hospital_3a.name, hospital_grade="3A")).lead


def _log(client, lead, **fields):
    data = {"kind": "call", "minutes": 0, "seconds": 0, "outcome": "answered", "note": ""}
    data.update(fields)
    return client.post(f"/leads/{lead.pk}/contacts/", data)


def test_short_call_is_an_attempt_not_an_effective_contact(client, alice, lead):
    """L7: a 59-second call is recorded (ledger: call, effective false) but is not effective."""
    client.force_login(alice)
    with time_machine.travel("2026-11-27 09:05:00 +0800", tick=False):
        assert _log(client, lead, seconds=59).status_code == 302
    lead.refresh_from_db()
    assert lead.first_effective_contact_at is None and lead.last_contact_at is not None
    activity = Activity.objects.get(kind=ActivityKind.CALL)
    assert activity.rep == alice and activity.customer == lead.customer
    assert activity.facts == {"duration_seconds": 59, "effective": False, "lead_id": lead.pk, "verification": "self_reported"}
    # Calling the customer is also a response: the lead counts as acknowledged.
    assert lead.status == LeadStatus.ACKNOWLEDGED and lead.acknowledged_via == "contact"


def test_call_of_sixty_seconds_sets_first_effective_contact(client, alice, lead):
    """L7: ≥ 60 s is effective: first_effective_contact_at is set once, status 已有效联系."""
    client.force_login(alice)
    with time_machine.travel("2026-11-27 09:10:00 +0800", tick=False):
        _log(client, lead, minutes=1, seconds=0, note="约了周三拜访")
    with time_machine.travel("2026-11-27 10:00:00 +0800", tick=False):
        _log(client, lead, minutes=5)
    lead.refresh_from_db()
    assert lead.first_effective_contact_at.isoformat() == "2026-11-27T01:10:00+00:00"
    assert lead.last_contact_at.isoformat() == "2026-11-27T02:00:00+00:00"
    assert lead.status == LeadStatus.CONTACTED
    assert list(Activity.objects.filter(kind=ActivityKind.CALL).order_by("occurred_at").values_list("facts__effective", flat=True)) == [True, True]


def test_on_site_visit_is_effective_and_checks_in(client, alice, lead):
    """L7: an on-site visit is an effective contact and appends visit_checkin to the ledger."""
    client.force_login(alice)
    _log(client, lead, kind="visit")
    lead.refresh_from_db()
    assert lead.first_effective_contact_at is not None
    attempt = ContactAttempt.objects.get()
    assert attempt.kind == ContactKind.VISIT and attempt.effective
    checkin = Activity.objects.get(kind=ActivityKind.VISIT_CHECKIN)
    assert checkin.facts == {"lead_id": lead.pk, "verification": "self_reported"} and checkin.customer == lead.customer


def test_unanswered_call_cannot_have_a_duration(client, alice, lead):
    client.force_login(alice)
    _log(client, lead, outcome="no_answer", minutes=2)
    assert not ContactAttempt.objects.exists()


def test_other_reps_cannot_log_contacts_on_a_lead_they_cannot_see(client, alice, bob, charlie, lead):
    """A3: charlie (other team) gets 404; the teammate who is not the assignee cannot see it either."""
    teammate = bob if lead.assignee == alice else alice
    for outsider in (charlie, teammate):
        client.force_login(outsider)
        assert _log(client, lead, minutes=2).status_code == 404
    assert not ContactAttempt.objects.exists()


def test_timeline_shows_each_step_with_times_and_durations(client, alice, carol, lead):
    """L7: intake → assigned → notified → acknowledged → escalated → first effective contact."""
    with time_machine.travel("2026-11-27 09:03:00 +0800", tick=False):
        leads_sweep()  # not acknowledged in 3 minutes: escalated
    client.force_login(alice)
    with time_machine.travel("2026-11-27 09:04:30 +0800", tick=False):
        client.post(f"/leads/{lead.pk}/acknowledge/")
    with time_machine.travel("2026-11-27 09:20:00 +0800", tick=False):
        _log(client, lead, minutes=2, seconds=5)
    lead.refresh_from_db()
    events, milestones = timeline(lead)
    kinds = [event.kind for event in events]
    assert kinds[0] == "intake" and "assigned" in kinds and "notified" in kinds
    assert kinds.index("escalated") < kinds.index("acknowledged") < kinds.index("effective")
    steps = {step.label: step for step in milestones}
    assert steps["接收"].took == "1 分 30 秒"  # after the escalation at 3:00
    assert steps["首次有效联系"].took == "15 分 30 秒"
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "时间线" in page and "首次有效联系" in page and "09:04:30" in page and "进线后 20 分 0 秒" in page

    fragment = client.get(f"/leads/{lead.pk}/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode() and 'id="timeline"' in fragment.content.decode()


def test_acknowledge_via_htmx_re_renders_the_live_part(client, alice, lead):
    """L6: the 接收 button (htmx) answers with the lead's live fragment, not a whole page."""
    client.force_login(alice)
    response = client.post(f"/leads/{lead.pk}/acknowledge/", headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page and 'id="lead-live"' in page
    assert "已接收" in page


def test_close_and_convert(client, alice, lead):
    client.force_login(alice)
    client.post(f"/leads/{lead.pk}/close/", {"status": "closed", "reason": ""})
    lead.refresh_from_db()
    assert lead.status == LeadStatus.ASSIGNED  # closing needs a reason
    client.post(f"/leads/{lead.pk}/close/", {"status": "converted", "reason": "已下单"})
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED and lead.closed_at is not None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.25, "250 毫秒"), (59, "59 秒"), (61, "1 分 1 秒"), (3 * 3600 + 120, "3 小时 2 分"), (2 * 86400 + 3600, "2 天 1 小时")]
)
def test_durations_read_naturally(seconds, text):
    from datetime import timedelta

    assert humanize_duration(timedelta(seconds=seconds)) == text
