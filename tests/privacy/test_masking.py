"""P2 Minimum necessary: masked numbers for everyone but the owner and the policy's roles; a
deliberate, logged reveal; no full number on the TV, in notifications or in admin lists."""

from __future__ import annotations

import pytest
from django.urls import reverse

from salesops.models import AccessLog, Role
from salesops.privacy import mask_phone, mask_phones

from .conftest import MASKED, NATIONAL, PHONE, SPACED

pytestmark = pytest.mark.django_db


def _full_number_in(html: str) -> bool:
    return any(form in html for form in (PHONE, NATIONAL, SPACED))


def test_mask_rule_in_one_place():
    """P2 139****5678 for mobiles in any writing; the area code and last four for landlines."""
    assert mask_phone("+8613957105678") == "139****5678"
    assert mask_phone("139 5710 5678") == "139****5678"
    assert mask_phone("0571-87654321") == "0571****4321"
    assert mask_phone("+8657187654321") == "0571****4321"
    assert mask_phones("客户：王 139 5710 5678，固话 0571-87654321") == "客户：王 139****5678，固话 0571****4321"


def test_owner_sees_the_full_number_on_the_lead(client, alice, lead):
    """P2 the lead's current owner (assignee) sees the number in full, with a tel: link."""
    client.force_login(alice)
    html = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert SPACED in html and f"tel:{PHONE}" in html


def test_supervisor_sees_the_lead_number_masked(client, carol, lead):
    """P2 a supervisor who may see the lead sees 139****0015 and a 显示完整号码 button — no full
    number anywhere in the page, not even in a link."""
    client.force_login(carol)
    html = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    assert MASKED in html and "显示完整号码" in html
    assert not _full_number_in(html)


@pytest.mark.parametrize("persona", ["bob", "carol"])
def test_teammate_sees_the_customer_numbers_masked(client, request, bob, carol, customer, contact, persona):
    """P2 a teammate who worked on alice's customer (bob, a collaborator) and the supervisor see
    the customer's and contact's numbers masked."""
    from salesops.ledger import activity_append
    from salesops.models import ActivityKind

    activity_append(rep=bob, kind=ActivityKind.CALL, customer=customer, facts={})
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert MASKED in html and "0571****4321" in html
    assert not _full_number_in(html) and "87654321" not in html


def test_customer_owner_sees_the_contact_numbers(client, alice, customer, contact):
    """P2 the customer's owner sees the contacts' numbers in full."""
    client.force_login(alice)
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "139 5710 0015" in html


def test_reveal_is_a_logged_post(client, carol, lead):
    """P2/P3 显示完整号码 is a POST (a GET is refused), answers the full number, and writes a
    reveal row in the access log with who, what, when and from where."""
    client.force_login(carol)
    url = reverse("leads:reveal_phone", args=[lead.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, headers={"HX-Request": "true", "HX-Target": "lead-phone"}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200 and SPACED in response.content.decode() and "<html" not in response.content.decode()
    row = AccessLog.objects.get(action="reveal")
    assert (row.user, row.subject_id, row.ip) == (carol, str(lead.pk), "198.51.100.7")
    assert row.subject_type.model == "lead"


def test_reveal_without_js_renders_the_page_in_full(client, carol, lead):
    """P2 without htmx the reveal answers the lead page with the number in full."""
    client.force_login(carol)
    html = client.post(reverse("leads:reveal_phone", args=[lead.pk])).content.decode()
    assert SPACED in html


def test_outsider_cannot_reveal(client, charlie, lead, customer):
    """P2 a rep of another team gets 404 — the reveal goes through the same access door — and no log row."""
    client.force_login(charlie)
    assert client.post(reverse("leads:reveal_phone", args=[lead.pk])).status_code == 404
    assert client.post(reverse("customers:reveal_phone", args=[customer.pk])).status_code == 404
    assert not AccessLog.objects.filter(action="reveal").exists()


def test_contact_reveal_logs_the_contact(client, carol, customer, contact):
    """P2/P3 revealing one contact's number logs that contact."""
    client.force_login(carol)
    response = client.post(reverse("customers:reveal_phone", args=[customer.pk]),
                           headers={"HX-Request": "true", "HX-Target": f"contact-phone-{contact.pk}"})
    assert "139 5710 0015" in response.content.decode()
    assert AccessLog.objects.filter(action="reveal", subject_type__model="contact", subject_id=str(contact.pk)).count() == 1


def test_policy_role_sees_numbers_in_full(client, settings, carol, lead):
    """P2 the roles named by PRIVACY_FULL_PHONE_ROLES see full numbers without a reveal."""
    settings.PRIVACY_FULL_PHONE_ROLES = [Role.SUPERVISOR]
    client.force_login(carol)
    assert SPACED in client.get(reverse("leads:detail", args=[lead.pk])).content.decode()


def test_admin_lists_mask_numbers(client, olga, lead, contact):
    """P2 admin change lists show masked numbers (the opened record is logged, P3)."""
    client.force_login(olga)
    for name in ("admin:leads_lead_changelist", "admin:salesops_contact_changelist"):
        html = client.get(reverse(name)).content.decode()
        assert MASKED in html and not _full_number_in(html)
    client.get(reverse("admin:leads_lead_change", args=[lead.pk]))
    assert AccessLog.objects.filter(action="view", subject_type__model="lead", user=olga).exists()


def test_board_carries_no_full_number(client, diana, lead):
    """P2 the TV board shows no phone number."""
    client.force_login(diana)
    html = client.get("/board/").content.decode()
    assert not _full_number_in(html)


def test_assignment_notifications_carry_masked_numbers(alice, settings):
    """P2 the assignment message (WeCom, e-mail, in-app, group) carries 139****xxxx, not the number."""
    from leads.services import lead_intake
    from salesops.models import Notification
    from tests.factories import consented_intake

    lead = lead_intake(data=consented_intake(contact_name="钱主任", phone="+8613957106666")).lead
    bodies = " ".join(Notification.objects.values_list("body", flat=True)) + " ".join(Notification.objects.values_list("title", flat=True))
    assert lead.pk and bodies.strip()
    assert "139****6666" in bodies and "13957106666" not in bodies and "139 5710 6666" not in bodies
