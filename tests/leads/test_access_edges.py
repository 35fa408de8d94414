"""R8 — access edges: writes only on leads of one's own teams (every door), the rule simulation shows
only in-scope leads, and a repeat contact on a closed lead opens a new, linked, assigned lead."""

from __future__ import annotations

import pytest

from tests.factories import consented_intake
from leads.models import ContactAttempt, Lead, LeadRepeat, LeadStatus
from leads.services import LeadActionError, contact_attempt_record, lead_close, lead_intake, lead_reassign, rules_create_draft
from leads.simulation import simulate

from .conftest import lead_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def charlies_lead_introduced_by_alice(alice, bob, charlie):
    """A lead of team B (charlie) that alice (team A) introduced: carol (A's supervisor) sees it."""
    for user in (alice, bob):
        user.rep.on_duty = False
        user.rep.save()
    lead = lead_intake(data=consented_intake(contact_name="跨组客户", phone="+8613800009999"), by=alice).lead
    assert lead.assignee == charlie
    for user in (alice, bob):
        user.rep.on_duty = True
        user.rep.save()
    return lead


def test_supervisor_cannot_close_or_reassign_another_teams_lead_from_any_door(client, carol, bob, charlie, charlies_lead_introduced_by_alice):
    """R8: carol sees charlie's lead (her rep introduced it) but the page, the POSTs and the
    services all refuse to close, reassign or log a contact on it."""
    lead = charlies_lead_introduced_by_alice
    client.force_login(carol)
    assert client.get(f"/leads/{lead.pk}/").status_code == 200
    assert client.post(f"/leads/{lead.pk}/close/", {"status": "closed", "reason": "抢单"}).status_code == 403
    assert client.post(f"/leads/{lead.pk}/reassign/", {"to": bob.pk, "reason": "抢单"}).status_code == 403
    assert client.post(f"/leads/{lead.pk}/contacts/", {"kind": "call", "minutes": 2, "outcome": "answered"}).status_code in (403, 404)
    with pytest.raises(LeadActionError):
        lead_close(lead=lead, by=carol, status=LeadStatus.CLOSED, reason="抢单")
    with pytest.raises(LeadActionError):
        lead_reassign(lead=lead, to_user=bob, by=carol, reason="抢单")
    with pytest.raises(LeadActionError):
        contact_attempt_record(lead=lead, kind="call", by=carol, duration_seconds=90)
    lead.refresh_from_db()
    assert lead.assignee == charlie and lead.status == LeadStatus.ASSIGNED and lead.closed_at is None
    assert not ContactAttempt.objects.filter(lead=lead).exists()


def test_supervisor_reassigns_only_to_own_teams_reps(carol, alice, charlie):
    """R8: even on her own team's lead, carol cannot hand it to another team's rep."""
    lead = lead_intake(data=consented_intake(contact_name="本组客户", phone="+8613800008888")).lead
    assert lead.assignee in (alice, charlie)
    lead.assignee = alice
    with pytest.raises(LeadActionError):
        lead_reassign(lead=lead, to_user=charlie, by=carol, reason="试试")


def test_own_teams_lead_and_the_pool_stay_writable(carol, dave, alice):
    """R8: the rule does not lock supervisors out of their own team's leads."""
    lead = lead_intake(data=consented_intake(contact_name="本组客户", phone="+8613800008887")).lead
    assert lead.assignee == alice
    lead_close(lead=lead, by=carol, status=LeadStatus.CLOSED, reason="重复")
    with pytest.raises(LeadActionError):
        lead_close(lead=lead, by=dave, status=LeadStatus.CONVERTED)


def test_simulation_lists_only_leads_in_the_viewers_scope(client, olga, carol, dave, alice, charlie):
    """R8: dave (team B) simulating a draft sees only team B's reps and leads; olga sees all."""
    for index in range(8):
        lead_intake(data=consented_intake(contact_name=f"客户{index}", phone=f"+86138000077{index:02d}"))
    draft = rules_create_draft(by=olga, weight_grade=5, weight_product_line=5, weight_workload=90, ack_timeout_minutes=3, dedupe_window_days=30)
    everything = simulate(draft, n=8, viewer=olga)
    scoped = simulate(draft, n=8, viewer=dave)
    visible = set(Lead.objects.visible_to(dave).values_list("pk", flat=True))
    assert all(row["lead"].pk in visible for row in scoped.changed)
    assert {row["user_id"] for row in scoped.rep_rows} <= {charlie.pk, dave.pk}
    assert {row["user_id"] for row in everything.rep_rows} >= {alice.pk, charlie.pk}
    client.force_login(dave)
    page = client.get(f"/leads/rules/{draft.pk}/simulate/?n=8").content.decode()
    alices = Lead.objects.filter(assignee=alice).values_list("contact_name", flat=True)
    assert not any(f">{name}</a>" in page for name in alices)


@pytest.mark.parametrize("closed_as", [LeadStatus.CLOSED, LeadStatus.CONVERTED])
def test_repeat_contact_on_a_closed_lead_opens_a_new_linked_assigned_lead(post_lead, alice, carol, closed_as):
    """R8: the same phone after the lead was closed is a new lead, linked to the old one and
    assigned — not a note on a closed lead nobody looks at."""
    first = post_lead(lead_payload(phone="13800001111")).json()
    old = Lead.objects.get(pk=first["id"])
    lead_close(lead=old, by=carol, status=closed_as, reason="客户暂不采购")
    again = post_lead(lead_payload(phone="138 0000 1111"))
    assert again.status_code == 201, again.content
    body = again.json()
    assert body["duplicate"] is False and body["id"] != old.pk and body["status"] == "assigned"
    new = Lead.objects.get(pk=body["id"])
    assert new.previous_lead == old and new.assignee == alice
    assert not LeadRepeat.objects.filter(lead=old).exists()
    # A repeat on the still-open new lead is a repeat again.
    third = post_lead(lead_payload(phone="13800001111"))
    assert third.status_code == 200 and third.json()["id"] == new.pk

