"""P1 Consent at intake: the public form shows the notice and a required box; the signed API needs
`consent` unless the source collects consent elsewhere; the lead keeps what, when and how."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.models import Lead, SourceConsent
from salesops.models import PrivacyNotice

from ..leads.conftest import consent, lead_payload

pytestmark = pytest.mark.django_db


def test_api_refuses_a_website_lead_without_consent(post_lead, alice):
    """P1 no consent → 400 naming `consent` in Chinese; nothing is created."""
    response = post_lead(lead_payload(consent=None))
    assert response.status_code == 400
    assert "consent" in response.json()["errors"] and "同意" in response.json()["errors"]["consent"][0]
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"version": "v1", "given_at": "昨天", "channel": "website"}, "given_at"),
        ({"version": "v99", "given_at": "2026-12-01T10:00:00+08:00", "channel": "website"}, "版本"),
        ({"given_at": "2026-12-01T10:00:00+08:00", "channel": "website"}, "version"),
        ({"version": "v1", "given_at": "2026-12-01T10:00:00+08:00"}, "channel"),
        ({"version": "v1", "given_at": "2999-01-01T10:00:00+08:00", "channel": "website"}, "晚于"),
        ("yes", "对象"),
    ],
)
def test_api_names_what_is_wrong_with_the_consent(post_lead, alice, bad, words):
    """P1 a malformed consent is a 400 on `consent` with a message saying what to fix — never a 500."""
    response = post_lead(lead_payload(consent=bad))
    assert response.status_code == 400
    assert words in response.json()["errors"]["consent"][0]


def test_api_lead_keeps_what_when_and_how(post_lead, alice):
    """P1 the lead records the notice version, the time and the channel of the consent."""
    response = post_lead(lead_payload(consent=consent(given_at="2026-12-01T10:00:00+08:00", channel="官网弹窗")))
    assert response.status_code == 201
    lead = Lead.objects.get(pk=response.json()["id"])
    assert (lead.consent_basis, lead.consent_notice_version, lead.consent_channel) == ("notice", "v1", "官网弹窗")
    assert lead.consent_given_at.isoformat() == "2026-12-01T02:00:00+00:00"


def test_channel_configured_as_collected_elsewhere_needs_no_consent(post_lead, alice):
    """P1 an exhibition lead (sign-up sheet with the notice) needs no consent object; the basis is recorded.
    Ops can switch a channel either way in admin (SourceConsent)."""
    response = post_lead(lead_payload(source="展会", consent=None))
    assert response.status_code == 201
    lead = Lead.objects.get(pk=response.json()["id"])
    assert (lead.consent_basis, lead.consent_channel) == ("elsewhere", "exhibition")
    SourceConsent.objects.update_or_create(source="exhibition", defaults={"collected_elsewhere": False})
    assert post_lead(lead_payload(source="展会", phone="13900003333", consent=None)).status_code == 400
    SourceConsent.objects.update_or_create(source="website", defaults={"collected_elsewhere": True})
    assert post_lead(lead_payload(phone="13900004444", consent=None)).status_code == 201


def test_service_refuses_a_website_lead_without_consent(alice):
    """P1 the rule lives in the intake service: a door that skips the form cannot create it."""
    from django.core.exceptions import ValidationError

    from leads.intake import IntakeData
    from leads.services import lead_intake

    with pytest.raises(ValidationError) as refused:
        lead_intake(data=IntakeData(contact_name="王主任", phone="+8613800001111", source="website"))
    assert "consent" in refused.value.message_dict
    # a rep who enters a relayed lead vouches for it: the basis says who
    lead = lead_intake(data=IntakeData(contact_name="王主任", phone="+8613800001111", source="website"), by=alice).lead
    assert (lead.consent_basis, lead.consent_channel) == ("elsewhere", "entered_by:alice")


def test_public_form_shows_the_notice_and_requires_the_box(client, alice):
    """P1 the form shows the notice text and version ops set; without the box ticked: a Chinese
    error next to it, the typed fields kept, no lead."""
    PrivacyNotice.objects.create(version="2026-12", text="我们只用您的电话联系您。")
    html = client.get(reverse("leads:public_form")).content.decode()
    assert "我们只用您的电话联系您。" in html and "2026-12" in html and 'name="consent"' in html
    response = client.post(reverse("leads:public_form"), {"name": "周主任", "phone": "13800006666", "notice_version": "2026-12"})
    assert response.status_code == 400
    assert 'data-error-for="consent"' in response.content.decode() and "勾选同意" in response.content.decode()
    assert not Lead.objects.exists()


def test_public_form_lead_keeps_the_version_the_person_saw(client, alice):
    """P1 the lead keeps the notice version shown, the time, and the web-form channel."""
    PrivacyNotice.objects.create(version="2026-12", text="说明")
    response = client.post(reverse("leads:public_form"), {"name": "周主任", "phone": "13800006666", "consent": "on", "notice_version": "2026-12"})
    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.consent_basis, lead.consent_notice_version, lead.consent_channel) == ("notice", "2026-12", "web_form")
    assert lead.consent_given_at is not None


def test_notice_is_history_tracked_and_edited_by_ops(client, olga):
    """P1 ops edit the notice in admin; every change is history."""
    from django.utils import timezone

    client.force_login(olga)
    now = timezone.localtime()
    response = client.post(reverse("admin:salesops_privacynotice_add"), {"version": "v2", "text": "新说明", "active": "on",
                                                                        "published_at_0": now.strftime("%Y-%m-%d"), "published_at_1": now.strftime("%H:%M:%S")})
    assert response.status_code == 302
    notice = PrivacyNotice.objects.get(version="v2")
    assert notice.history.count() == 1 and PrivacyNotice.current() == notice
