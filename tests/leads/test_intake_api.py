"""L1 — signed intake API: POST /api/v1/leads (Standard Webhooks)."""

from __future__ import annotations

import json
import time

import pytest
import time_machine

from leads.models import Lead, LeadSource, LeadStatus, WebhookReceipt
from salesops.models import Customer

from .conftest import lead_payload, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(alice, hip, hospital_3a, joint):
    alice.rep.product_lines.set([joint])
    return alice


def test_signed_intake_creates_and_assigns_the_lead(post_lead, ready, django_capture_on_commit_callbacks):
    """L1 + L4: a correctly signed submission is a lead, assigned at once; the answer says to whom."""
    with django_capture_on_commit_callbacks(execute=True):
        response = post_lead(lead_payload(phone="138 0000 1111"))
    assert response.status_code == 201, response.content
    body = response.json()
    lead = Lead.objects.get()
    assert body["id"] == lead.pk and body["status"] == "assigned" and body["duplicate"] is False
    assert body["assignee"] == {"id": ready.pk, "name": "艾丽"}
    assert body["assigned_in_ms"] > 0  # measured properly in tests/bench/bench_leads.py
    assert lead.phone == "+8613800001111"
    assert (lead.hospital.name, lead.hospital_grade, lead.product.model_number) == ("浙江省人民医院", "3A", "AK-HIP-01")
    assert lead.source == LeadSource.WEBSITE and lead.introduced_by is None
    # The hospital is known, so the lead has a customer: the hospital's joint department.
    assert lead.customer == Customer.objects.get(hospital=lead.hospital) and lead.customer.name.endswith("关节外科")


def test_bad_signature_is_401_and_creates_nothing(client, intake_secret, ready):
    """L1: a body signed with another key is rejected."""
    other = "whsec_" + "b3RoZXIta2V5LW5vdC10cnVzdGVkLTAxMjM0NTY3"
    response = signed(client, "/api/v1/leads", lead_payload(), secret=other)
    assert response.status_code == 401
    assert "signature" in response.json()["errors"]
    assert not Lead.objects.exists()


def test_tampered_body_is_401(client, intake_secret, ready):
    """L1: the signature covers the raw body: change one byte and it no longer verifies."""
    from salesops.integrations.webhooks import signature_headers

    body = json.dumps(lead_payload()).encode()
    headers = signature_headers(intake_secret, body)
    response = client.post("/api/v1/leads", data=body.replace(b"13800001111", b"13800001112"), content_type="application/json", headers=headers)
    assert response.status_code == 401


def test_missing_headers_and_stale_timestamp_are_401(client, post_lead, ready):
    """L1: no signature headers → 401; a timestamp more than 5 minutes old → 401."""
    assert client.post("/api/v1/leads", data=json.dumps(lead_payload()), content_type="application/json").status_code == 401
    stale = post_lead(lead_payload(), timestamp=int(time.time()) - 301)
    assert stale.status_code == 401 and "tolerance" in stale.json()["errors"]["signature"][0]
    assert not Lead.objects.exists()


def test_key_rotation_accepts_every_configured_secret(client, settings, ready, intake_secret):
    """L1: LEAD_INTAKE_SECRETS holds several whsec_ keys during rotation; each one works."""
    new = "whsec_" + "bmV3LXJvdGF0ZWQta2V5LTAxMjM0NTY3ODlhYmNk"
    settings.LEAD_INTAKE_SECRETS = [new, intake_secret]
    assert signed(client, "/api/v1/leads", lead_payload(), secret=intake_secret).status_code == 201
    assert signed(client, "/api/v1/leads", lead_payload(phone="13900002222"), secret=new).status_code == 201


def test_replayed_webhook_id_returns_first_response_and_creates_one_lead(post_lead, ready):
    """L1: the same submission twice (same webhook-id) makes one lead; the replay gets the first answer."""
    first = post_lead(lead_payload(), msg_id="msg_replay_1")
    again = post_lead(lead_payload(), msg_id="msg_replay_1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["webhook-replay"] == "true"
    assert Lead.objects.count() == 1
    assert WebhookReceipt.objects.filter(endpoint="leads", key="msg_replay_1").count() == 1


def test_bad_phone_is_400_naming_phone(post_lead, ready):
    """L1: a phone that is not a CN number is a 400 that names `phone`; nothing is created."""
    response = post_lead(lead_payload(phone="12345"))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["phone"]
    assert "12345" in response.json()["errors"]["phone"][0]
    assert not Lead.objects.exists()


def test_every_bad_field_is_named(post_lead, ready):
    """L1: all problems come back at once, each under its field name."""
    response = post_lead({"name": "", "phone": "+1 650 253 0000", "hospital_grade": "4A", "source": "tv", "hospital": "999999"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "phone", "hospital_grade", "source", "hospital"}


def test_grade_and_source_accept_chinese_labels(post_lead, ready):
    """L1: 三甲/二甲/民营 and 官网/展会/转介绍 are understood as well as the codes."""
    response = post_lead(lead_payload(hospital="某县人民医院", hospital_grade="二甲", source="展会"))
    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.hospital, lead.hospital_name, lead.hospital_grade, lead.source) == (None, "某县人民医院", "2A", "exhibition")


def test_hospital_by_id_takes_the_master_data_grade(post_lead, ready, hospital_3a):
    """L1: `hospital` may be the SalesOps id; its grade wins over a posted one."""
    response = post_lead(lead_payload(hospital=hospital_3a.pk, hospital_grade="private"))
    assert response.status_code == 201
    assert Lead.objects.get().hospital_grade == "3A"


def test_invalid_json_and_non_object_are_400(post_lead, ready):
    """L1: a body that is not a JSON object is answered, not swallowed."""
    broken = post_lead(raw=b"{not json")
    assert broken.status_code == 400 and "body" in broken.json()["errors"]
    assert post_lead(raw=b"[1, 2]").status_code == 400


def test_oversized_body_is_413(post_lead, settings, ready):
    """L1: bodies over LEAD_API_MAX_BODY_BYTES are refused before anything is parsed."""
    settings.LEAD_API_MAX_BODY_BYTES = 1024
    response = post_lead(lead_payload(note="很长" * 1000))
    assert response.status_code == 413
    assert not Lead.objects.exists()


def test_rate_limit_is_429_with_retry_after(post_lead, settings, ready):
    """L1: more requests than LEAD_API_RATE_LIMIT per IP and window → 429 + Retry-After."""
    settings.LEAD_API_RATE_LIMIT = (2, 60)
    with time_machine.travel("2026-11-27 09:00:10 +0800", tick=False):
        assert post_lead(lead_payload(phone="13800000001")).status_code == 201
        assert post_lead(lead_payload(phone="13800000002")).status_code == 201
        limited = post_lead(lead_payload(phone="13800000003"))
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) == 50
    assert Lead.objects.count() == 2


def test_no_eligible_rep_leaves_the_lead_new_and_unassigned(post_lead, alice):
    """L4: when everyone is off duty the lead is kept (status new), never dropped."""
    alice.rep.on_duty = False
    alice.rep.save()
    response = post_lead(lead_payload(hospital=""))
    assert response.status_code == 201
    assert response.json()["assignee"] is None and response.json()["status"] == "new"
    assert Lead.objects.get().status == LeadStatus.NEW


def test_openapi_description_is_served(client):
    """L1: the API is described (OpenAPI 3.1) at /api/v1/openapi.json."""
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {"/leads", "/calls/callback"} <= set(document["paths"])
    responses = document["paths"]["/leads"]["post"]["responses"]
    assert {"201", "400", "401", "413", "429"} <= set(responses)
    assert document["components"]["schemas"]["LeadIn"]["required"] == ["name", "phone"]


def test_get_is_not_allowed(client, intake_secret):
    assert client.get("/api/v1/leads").status_code == 405
