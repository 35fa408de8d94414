"""R9 many-to-many and user changes are history; R4 the known 500s answer 4xx with a message."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from salesops.models import Rep
from salesops.params import parse_date_value, parse_int, raw_json_depth_exceeds

from ..factories import ProductLineFactory
from ..leads.conftest import DIALER_SECRET, INTAKE_SECRET, signed


@pytest.mark.django_db
def test_rep_product_line_changes_are_history(alice, olga):
    """R9 Adding and removing a rep's product line writes history rows with the set at that time."""
    joint, spine = ProductLineFactory(code="joint", name="关节类"), ProductLineFactory(code="spine", name="脊柱类")
    rep = Rep.objects.get(user=alice)
    before = rep.history.count()
    rep.product_lines.add(joint, spine)
    rep.product_lines.remove(spine)
    records = list(rep.history.order_by("history_id"))[before:]
    assert len(records) == 2
    assert {row.productline_id for row in records[0].product_lines.all()} == {joint.pk, spine.pk}
    assert {row.productline_id for row in records[1].product_lines.all()} == {joint.pk}


@pytest.mark.django_db
def test_deal_reps_changes_are_history(alice, bob, charlie):
    """R9 A deal's reps (who shares the bonus) are history too."""
    from ..dashboards.factories import make_deal

    deal = make_deal(owner=alice)
    deal.reps.add(bob)
    deal.reps.add(charlie)
    latest = deal.history.order_by("-history_id").first()
    assert {row.user_id for row in latest.reps.all()} == {bob.pk, charlie.pk}


@pytest.mark.django_db
def test_user_changes_are_history_without_password_hash(alice, olga):
    """R9 Deactivating a user and changing a password are history rows (who, when); a login is not."""
    alice._history_user = olga
    alice.is_active = False
    alice.save()
    row = alice.history.order_by("-history_id").first()
    assert row.is_active is False and row.history_user == olga
    alice.set_password("Ein-neues-Passwort-1")
    alice.save()
    row = alice.history.order_by("-history_id").first()
    assert row.history_change_reason == "修改密码"
    assert "password" not in {field.name for field in row._meta.fields}
    count = alice.history.count()
    alice.is_active = True
    alice.save()
    response = Client().post(reverse("login"), {"username": "alice", "password": "Ein-neues-Passwort-1"})
    assert response.status_code == 302  # the login updated last_login only
    assert alice.history.count() == count + 1


@pytest.mark.django_db
def test_rep_role_and_team_changes_are_history(alice, team_b):
    """R9 Role and team live on the tracked Rep profile."""
    rep = Rep.objects.get(user=alice)
    rep.team = team_b
    rep.role = "supervisor"
    rep.save()
    row = rep.history.order_by("-history_id").first()
    assert row.team_id == team_b.pk and row.role == "supervisor"


# --- R4: the offenders the customer found ---------------------------------------------------


def test_parse_int_refuses_lookalike_digits_and_overflow():
    """R4 "፩".isdigit() is True but it is no number; 23 digits overflow a database integer."""
    assert "፩".isdigit() and parse_int("፩") is None
    assert parse_int("١٢") == 12 and parse_int("１２") == 12
    assert parse_int("12345678901234567890123") is None
    assert parse_int("a\x00b") is None and parse_int(True) is None and parse_int(-1, minimum=1) is None
    assert parse_date_value("2026-13-45") is None and str(parse_date_value("2026-02-03")) == "2026-02-03"
    assert raw_json_depth_exceeds("[" * 2000 + "]" * 2000, 8)
    assert not raw_json_depth_exceeds('{"a": "[[[[[[[[[[[[["}', 8)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["፩", "12345678901234567890123", "a\x00b"])
def test_rep_filters_ignore_hostile_ids(client, carol, value):
    """R4 `?rep=` on the team pages answers 200 with no filter instead of a 500 (a NUL character is
    refused for the whole request with a 400 that says so: PostgreSQL cannot store or compare it)."""
    client.force_login(carol)
    expected = 400 if "\x00" in value else 200
    for name in ("leads:team", "visits:task_list", "visits:qr_pack", "cash:overdue"):
        assert client.get(reverse(name), {"rep": value}).status_code == expected, name


@pytest.mark.django_db
def test_inbox_read_with_a_lookalike_id_marks_nothing(client, alice):
    """R4 The inbox `id` "፩" marks no notification read (and does not 500)."""
    from salesops.notifications import notification_enqueue

    note = notification_enqueue(recipient=alice, title="t")
    client.force_login(alice)
    assert client.post(reverse("leads:inbox_read"), {"id": "፩"}).status_code == 302
    note.refresh_from_db()
    assert note.read_at is None


@pytest.mark.django_db
def test_public_form_hospital_lookalike_digit_is_a_form_error(client, settings):
    """R4 hospital "፩" on the public form: a form error naming the hospital, not a 500."""
    settings.LEAD_FORM_RATE_LIMIT = (100, 600)
    response = client.post(reverse("leads:public_form"), {"consent": "on", "name": "王主任", "phone": "13800001111", "hospital": "፩"})
    assert response.status_code == 400
    assert "没有编号为 ፩ 的医院" in response.content.decode()


@pytest.mark.django_db
def test_api_refuses_deeply_nested_json_with_400(client, settings):
    """R4 JSON nested 2,000 deep is a 400 naming the body, not a RecursionError 500."""
    settings.LEAD_INTAKE_SECRETS = [INTAKE_SECRET]
    settings.LEAD_API_MAX_BODY_BYTES = 64 * 1024
    body = ('{"name": ' + "[" * 2000 + "]" * 2000 + "}").encode()
    response = signed(client, "/api/v1/leads", raw=body, secret=INTAKE_SECRET)
    assert response.status_code == 400
    assert "嵌套" in json.dumps(response.json(), ensure_ascii=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value",
    [("answered_at", "2026-13-45"), ("ended_at", "2026-02-30T25:00:00+08:00"), ("attempt", 10**22), ("talk_seconds", "፩")],
)
def test_call_callback_with_impossible_values_is_400(client, settings, field, value):
    """R4 The call robot's callback with an impossible date or a huge number: 400 naming the field."""
    settings.DIALER_SECRETS = [DIALER_SECRET]
    payload = {"event_id": "e1", "event_type": "call.finished", "external_ref": "x", "status": "answered", field: value}
    response = signed(client, "/api/v1/calls/callback", payload, secret=DIALER_SECRET)
    assert response.status_code == 400
    assert field in response.json()["errors"]
