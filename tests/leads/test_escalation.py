"""L6 — acknowledgement (the link in the message, the 接收 button) and escalation after 3 minutes
to the supervisor and the outbound call robot, whose result comes back through a signed callback."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_q.models import Schedule

from leads.models import ContactAttempt, ContactSource, DialerCall, DialerStatus, Lead, LeadStatus, WebhookReceipt
from leads.services import ack_path, lead_intake, leads_sweep
from tests.factories import consented_intake
from leads.tasks import escalate_lead
from salesops.models import Activity, ActivityKind, Channel, Notification, NotificationStatus

from .conftest import signed

pytestmark = pytest.mark.django_db
T0 = "2026-11-27 09:00:00 +0800"


def _lead(phone="+8613800001111", **extra) -> Lead:
    return lead_intake(data=consented_intake(contact_name="王主任", phone=phone, source="website", **extra)).lead


@pytest.fixture
def assigned(alice, carol):
    with time_machine.travel(T0, tick=False):
        lead = _lead()
    assert lead.assignee == alice
    return lead


def test_assignment_schedules_a_deadline_check(assigned):
    """L6: a one-off django-q schedule at assigned_at + 3 min (+1 s); the sweep is the safety net."""
    schedule = Schedule.objects.get(func="leads.tasks.escalate_lead", args=str(assigned.pk))
    assert schedule.schedule_type == Schedule.ONCE
    assert schedule.next_run == assigned.assigned_at + timedelta(minutes=3, seconds=1)


def test_escalation_fires_once_at_three_minutes_not_before_not_twice(assigned, carol, alice):
    """L6: at 2:59 nothing; at 3:00 the supervisor is told; a second sweep and the one-off check add nothing."""
    with time_machine.travel("2026-11-27 09:02:59 +0800", tick=False):
        assert leads_sweep()["escalated"] == 0
        assert escalate_lead(assigned.pk) is False
    with time_machine.travel("2026-11-27 09:03:00 +0800", tick=False):
        assert leads_sweep()["escalated"] == 1
        assert leads_sweep()["escalated"] == 0
        assert escalate_lead(assigned.pk) is False  # the one-off check arriving late is a no-op
    assigned.refresh_from_db()
    assert assigned.escalated_at == timezone.datetime.fromisoformat("2026-11-27T09:03:00+08:00")
    to_carol = Notification.objects.filter(recipient=carol, dedupe_key__startswith=f"lead:{assigned.pk}:esc")
    assert to_carol.count() == 1 and "艾丽 已 3 分钟未接收" in to_carol.get().body
    # The history trail shows the escalation even though it was claimed with a conditional update.
    assert assigned.history.filter(escalated_at__isnull=False).count() == 1


def test_acknowledged_lead_is_never_escalated(assigned, alice, client):
    """L6: pressing 接收 within the deadline stops the escalation."""
    client.force_login(alice)
    with time_machine.travel("2026-11-27 09:01:30 +0800", tick=False):
        response = client.post(f"/leads/{assigned.pk}/acknowledge/")
    assert response.status_code == 302
    with time_machine.travel("2026-11-27 09:10:00 +0800", tick=False):
        assert leads_sweep()["escalated"] == 0
    assigned.refresh_from_db()
    assert assigned.status == LeadStatus.ACKNOWLEDGED and assigned.acknowledged_via == "button"
    assert assigned.seconds_to_ack == 90
    activity = Activity.objects.get(kind=ActivityKind.LEAD_ACKNOWLEDGED)
    assert activity.rep == alice and activity.facts == {"seconds_to_ack": 90}


def test_ack_link_get_never_acknowledges_and_the_assignee_posts_to_acknowledge(assigned, alice, client):
    """R2: opening the link (a scanner, a preview bot, the rep) acknowledges nothing; logged out it
    goes to the login first; the assignee's POST on the page is the acknowledgement."""
    url = ack_path(assigned, alice)
    with time_machine.travel("2026-11-27 09:00:20 +0800", tick=False):
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
        assert client.post(url).status_code == 403  # a scanner posting without a login
        client.force_login(alice)
        page = client.get(url)
        assert page.status_code == 200 and b'method="post"' in page.content
    assigned.refresh_from_db()
    assert assigned.acknowledged_at is None  # three GETs and an anonymous POST later
    with time_machine.travel("2026-11-27 09:00:40 +0800", tick=False):
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == f"/leads/{assigned.pk}/"
    assigned.refresh_from_db()
    assert assigned.acknowledged_via == "link" and assigned.seconds_to_ack == 40


def test_ack_link_logs_in_through_wecom_oauth_where_configured(assigned, alice, client, settings):
    """R2: inside WeCom the link goes through WeCom OAuth and comes back to the ack page."""
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "ww-corp", "app-secret", "1000002"
    url = ack_path(assigned, alice)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/wecom/login/?next=")
    assert client.get(response["Location"])["Location"].startswith("https://open.weixin.qq.com/connect/oauth2/authorize")
    assigned.refresh_from_db()
    assert assigned.acknowledged_at is None


@pytest.mark.parametrize("who", ["bob", "carol", "charlie", "diana"])
def test_ack_link_of_another_rep_is_404_for_teammates_and_supervisors(assigned, alice, who, client, request):
    """R2: a teammate, the supervisor, another team, the director opening or posting alice's
    link get 404 and acknowledge nothing."""
    client.force_login(request.getfixturevalue(who))
    url = ack_path(assigned, alice)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assigned.refresh_from_db()
    assert assigned.acknowledged_at is None


def test_ack_link_after_reassignment_acknowledges_nothing(assigned, alice, bob, carol, client):
    """R2: alice's old link does not acknowledge the lead for bob after a reassignment."""
    from leads.services import lead_reassign

    lead_reassign(lead=assigned, to_user=bob, by=carol, reason="请假")
    client.force_login(alice)
    client.post(ack_path(assigned, alice))
    assigned.refresh_from_db()
    assert assigned.assignee == bob and assigned.acknowledged_at is None


def test_a_forged_or_foreign_ack_link_acknowledges_nothing(assigned, alice, bob, client):
    """L6: links are signed and bound to the assignee: a guessed token is 404, bob's token does nothing."""
    assert client.get(f"/leads/ack/{assigned.pk}/").status_code == 404
    assert client.get(ack_path(assigned, alice)[:-6] + "xxxxx/").status_code == 404
    client.get(ack_path(assigned, bob))
    assigned.refresh_from_db()
    assert assigned.acknowledged_at is None


@pytest.mark.parametrize("who", ["bob", "carol", "diana"])
def test_only_the_assignee_acknowledges(assigned, who, client, request):
    """L6 + R2: the supervisor, a teammate or the director pressing 接收 (the button, the service)
    for the rep does nothing."""
    from leads.services import LeadActionError, lead_acknowledge

    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.post(f"/leads/{assigned.pk}/acknowledge/").status_code in (302, 403, 404)
    with pytest.raises(LeadActionError):
        lead_acknowledge(lead=assigned, by=user)
    assigned.refresh_from_db()
    assert assigned.acknowledged_at is None


@pytest.fixture
def dialer(settings, httpserver, dialer_secret):
    settings.DIALER_URL = httpserver.url_for("/v1/calls")
    httpserver.expect_request("/v1/calls", method="POST").respond_with_json({"call_request_id": "cr_1", "status": "queued"})
    return httpserver


def test_escalation_asks_the_call_robot_to_dial(dialer, assigned, dialer_secret, django_capture_on_commit_callbacks):
    """L6: the robot request is signed (Standard Webhooks), carries an Idempotency-Key, and is an
    outbox row like any message (retried, logged)."""
    from salesops.integrations.webhooks import verify

    with time_machine.travel("2026-11-27 09:03:05 +0800", tick=False), django_capture_on_commit_callbacks(execute=True):
        leads_sweep()
    call = DialerCall.objects.get(lead=assigned)
    request = dialer.log[0][0]
    body = json.loads(request.data)
    assert body["external_ref"] == call.external_ref and body["callee"] == "+8613800001111"
    assert body["script_id"] == "first_touch_v1" and body["variables"]["customer_name"] == "王主任"
    assert request.headers["Idempotency-Key"] == call.external_ref
    with time_machine.travel("2026-11-27 09:03:05 +0800", tick=False):
        assert verify([dialer_secret], request.headers, request.data)
    call.notification.refresh_from_db()
    assert call.notification.channel == Channel.CALL_ROBOT
    assert (call.notification.status, call.notification.external_id) == (NotificationStatus.DELIVERED, "cr_1")


def _callback(client, secret, **fields):
    event = {
        "event_id": "evt_9", "event_type": "call.completed", "external_ref": "", "attempt": 1, "status": "answered",
        "talk_seconds": 49, "answered_at": "2026-11-27T09:04:03+08:00", "ended_at": "2026-11-27T09:04:52+08:00",
        "hangup_by": "callee", "intent": "A", "transcript": [{"seq": 1, "role": "robot", "text": "您好"}], "recording_url": "https://rec.example/1.mp3",
    }
    event.update(fields)
    return signed(client, "/api/v1/calls/callback", event, secret=secret)


def test_call_robot_callback_is_recorded_once(dialer, assigned, client, dialer_secret, carol, django_capture_on_commit_callbacks):
    """L6: the signed callback updates the call and logs a robot contact attempt; the same event_id
    again (even with a new webhook-id) changes nothing."""
    with time_machine.travel("2026-11-27 09:03:05 +0800", tick=False), django_capture_on_commit_callbacks(execute=True):
        leads_sweep()
    call = DialerCall.objects.get()
    with time_machine.travel("2026-11-27 09:05:00 +0800", tick=False):
        first = _callback(client, dialer_secret, external_ref=call.external_ref)
        again = _callback(client, dialer_secret, external_ref=call.external_ref)
    assert first.status_code == 200 and first.json() == {"ok": True, "duplicate": False, "lead_id": assigned.pk}
    assert again.json() == {"ok": True, "duplicate": True}
    call.refresh_from_db()
    assert (call.status, call.talk_seconds, call.intent) == (DialerStatus.ANSWERED, 49, "A")
    attempt = ContactAttempt.objects.get()
    assert attempt.source == ContactSource.ROBOT and attempt.duration_seconds == 49 and not attempt.effective
    assigned.refresh_from_db()
    # The robot verifies; it is not the rep's follow-up.
    assert assigned.first_effective_contact_at is None and assigned.last_contact_at is None
    assert not Activity.objects.filter(kind=ActivityKind.CALL).exists()
    assert Notification.objects.filter(recipient=carol, title__startswith="外呼结果").count() == 1


def test_callback_errors(dialer, assigned, client, dialer_secret, intake_secret):
    """L6: unsigned/wrongly signed → 401, bad fields → 400 naming them, unknown ref → 404 (nothing kept)."""
    with time_machine.travel("2026-11-27 09:05:00 +0800", tick=False):
        assert _callback(client, intake_secret, external_ref="lead-x").status_code == 401
        bad = _callback(client, dialer_secret, external_ref="lead-x", status="exploded", talk_seconds="long")
        assert bad.status_code == 400 and set(bad.json()["errors"]) == {"status", "talk_seconds"}
        unknown = _callback(client, dialer_secret, external_ref="lead-unknown", event_id="evt_unknown")
    assert unknown.status_code == 404 and "external_ref" in unknown.json()["errors"]
    assert not WebhookReceipt.objects.filter(endpoint="call_event").exists()


def test_without_a_dialer_escalation_still_notifies(assigned, carol, settings):
    """L6: the call robot is optional (DIALER_URL unset): the supervisor is still told."""
    settings.DIALER_URL = ""
    with time_machine.travel("2026-11-27 09:03:00 +0800", tick=False):
        assert leads_sweep()["escalated"] == 1
    assert not DialerCall.objects.exists()
    assert Notification.objects.filter(recipient=carol).exists()


def test_unassigned_lead_is_assigned_when_someone_is_free(alice):
    """L4: everyone off duty at intake → the lead waits (new); the sweep assigns it once a rep is back."""
    alice.rep.on_duty = False
    alice.rep.save()
    lead = _lead()
    assert lead.status == LeadStatus.NEW
    alice.rep.on_duty = True
    alice.rep.save()
    assert leads_sweep()["assigned"] == 1
    lead.refresh_from_db()
    assert lead.assignee == alice and lead.status == LeadStatus.ASSIGNED


def test_a_failing_call_robot_is_retried_and_nothing_is_lost(settings, httpserver, dialer_secret, assigned, django_capture_on_commit_callbacks):
    """L5/L6: the robot answers 503, then accepts: the request is one outbox row with two attempts,
    sent both times with the same Idempotency-Key so the robot never dials twice."""
    from salesops import delivery

    settings.DIALER_URL = httpserver.url_for("/v1/calls")
    answers = iter([(503, {"error": "busy"}), (200, {"call_request_id": "cr_2", "status": "queued"})])

    def handler(request):
        from werkzeug import Response

        status, body = next(answers)
        return Response(json.dumps(body), status=status, content_type="application/json")

    httpserver.expect_request("/v1/calls", method="POST").respond_with_handler(handler)
    with time_machine.travel("2026-11-27 09:03:05 +0800", tick=False), django_capture_on_commit_callbacks(execute=True):
        leads_sweep()
    call = DialerCall.objects.get()
    call.notification.refresh_from_db()
    assert call.notification.status == NotificationStatus.PENDING and call.notification.attempt_log.get().error_code == "http_503"
    with time_machine.travel("2026-11-27 09:03:40 +0800", tick=False):
        delivery.deliver_due()
    call.notification.refresh_from_db()
    assert (call.notification.status, call.notification.external_id, call.notification.attempts) == (NotificationStatus.DELIVERED, "cr_2", 2)
    keys = {request.headers["Idempotency-Key"] for request, _response in httpserver.log}
    assert keys == {call.external_ref}
