"""L5 — the notification outbox: WeCom app message, group robot, e-mail, in-app; retries with
backoff recorded per attempt; nothing lost when a channel is down. Outside systems are a real
local HTTP server (pytest-httpserver) answering in WeCom's shapes, failures included."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from werkzeug import Response

from salesops import delivery
from salesops.models import Channel, Notification, NotificationAttempt, NotificationStatus
from salesops.notifications import notification_enqueue

pytestmark = pytest.mark.django_db


@pytest.fixture
def wecom(settings, httpserver):
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "ww-corp", "app-secret", "1000002"
    settings.WECOM_API_BASE = httpserver.url_for("").rstrip("/")
    settings.SITE_URL = "https://salesops.example"
    return httpserver


def _token(httpserver, token="TOKEN1", errcode=0):
    httpserver.expect_request("/cgi-bin/gettoken", query_string={"corpid": "ww-corp", "corpsecret": "app-secret"}).respond_with_json(
        {"errcode": errcode, "errmsg": "ok", "access_token": token, "expires_in": 7200}
    )


def _send(recipient, channel=Channel.WECOM_APP, key="n1", **extra):
    return notification_enqueue(
        recipient=recipient, title="新线索：浙江省人民医院", body="客户：王主任\n来源：官网", url="/leads/ack/abc/", channel=channel, dedupe_key=key, **extra
    )


def _requests(httpserver, path):
    return [request for request, _response in httpserver.log if request.path == path]


def test_wecom_textcard_is_sent_with_a_cached_token(wecom, alice, django_capture_on_commit_callbacks):
    """L5: gettoken once, then message/send with a textcard linking (absolute URL) to the lead."""
    _token(wecom)
    wecom.expect_request("/cgi-bin/message/send", method="POST").respond_with_json({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "MSG1"})
    with django_capture_on_commit_callbacks(execute=True):
        first = _send(alice, key="a")
        second = _send(alice, key="b")
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.external_id, first.attempts) == (NotificationStatus.DELIVERED, "MSG1", 1)
    assert second.status == NotificationStatus.DELIVERED
    assert len(_requests(wecom, "/cgi-bin/gettoken")) == 1  # cached
    sent = _requests(wecom, "/cgi-bin/message/send")
    assert len(sent) == 2 and sent[0].args["access_token"] == "TOKEN1"
    body = json.loads(sent[0].data)
    assert body["touser"] == alice.rep.wecom_userid and body["msgtype"] == "textcard" and body["agentid"] == 1000002
    assert body["textcard"]["url"] == "https://salesops.example/leads/ack/abc/"
    assert body["enable_duplicate_check"] == 1
    attempt = NotificationAttempt.objects.get(notification=first)
    assert attempt.ok and attempt.attempt_number == 1 and attempt.detail == "external_id=MSG1"


def test_expired_token_is_fetched_again_once(wecom, alice, django_capture_on_commit_callbacks):
    """L5: WeCom says 42001 (expired) inside an HTTP 200 → forget the token, fetch, retry once."""
    tokens = iter(["OLD", "NEW"])
    wecom.expect_request("/cgi-bin/gettoken").respond_with_handler(
        lambda request: Response(json.dumps({"errcode": 0, "access_token": next(tokens), "expires_in": 7200}), content_type="application/json")
    )

    def send(request):
        if request.args["access_token"] == "OLD":
            return Response(json.dumps({"errcode": 42001, "errmsg": "access_token expired"}), content_type="application/json")
        return Response(json.dumps({"errcode": 0, "errmsg": "ok", "msgid": "MSG2"}), content_type="application/json")

    wecom.expect_request("/cgi-bin/message/send").respond_with_handler(send)
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send(alice)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED and notification.attempts == 1
    assert [r.args["access_token"] for r in _requests(wecom, "/cgi-bin/message/send")] == ["OLD", "NEW"]


def test_errcode_failure_is_retried_with_backoff_and_nothing_is_lost(wecom, alice, django_capture_on_commit_callbacks):
    """L5: errcode -1 (busy) in a 200 is a failure: the attempt is recorded, the row waits 30 s,
    the per-minute sweep sends it again, and the log keeps both attempts."""
    _token(wecom)
    answers = iter([{"errcode": -1, "errmsg": "system busy"}, {"errcode": 0, "errmsg": "ok", "msgid": "MSG3"}])
    wecom.expect_request("/cgi-bin/message/send").respond_with_handler(
        lambda request: Response(json.dumps(next(answers)), content_type="application/json")
    )
    with time_machine.travel("2026-11-27 09:00:00 +0800", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            notification = _send(alice)
        notification.refresh_from_db()
        assert notification.status == NotificationStatus.PENDING and notification.attempts == 1
        assert notification.next_attempt_at == timezone.now() + timedelta(seconds=30)
        assert "errcode -1" in notification.last_error
        assert delivery.deliver_due() == 0  # not due yet
    with time_machine.travel("2026-11-27 09:00:31 +0800", tick=False):
        assert delivery.deliver_due() == 1
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED and notification.attempts == 2
    log = list(notification.attempt_log.values_list("attempt_number", "ok", "error_code"))
    assert log == [(1, False, "-1"), (2, True, "")]


def test_timeout_is_an_attempt_and_the_row_waits(settings, alice, django_capture_on_commit_callbacks):
    """L5: a WeCom that accepts the connection and never answers times out; the row is kept."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # never accepted: the request is sent, no answer ever comes
    try:
        settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "ww-corp", "app-secret", "1000002"
        settings.WECOM_API_BASE = f"http://127.0.0.1:{silent.getsockname()[1]}"
        settings.HTTP_TIMEOUT_SECONDS = 0.3
        with django_capture_on_commit_callbacks(execute=True):
            notification = _send(alice)
    finally:
        silent.close()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.PENDING and notification.attempts == 1
    assert notification.attempt_log.get().error_code == "timeout"


def test_permanent_errcode_fails_at_once(wecom, alice, django_capture_on_commit_callbacks):
    """L5: 81013 (every recipient invalid) cannot get better by retrying: failed, kept, visible."""
    _token(wecom)
    wecom.expect_request("/cgi-bin/message/send").respond_with_json({"errcode": 81013, "errmsg": "user & party & tag all invalid"})
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send(alice)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED and notification.attempts == 1
    assert "81013" in notification.last_error


def test_after_max_attempts_the_row_is_failed(wecom, alice, settings, django_capture_on_commit_callbacks):
    """L5: retries stop after NOTIFY_MAX_ATTEMPTS; the row and every attempt stay."""
    settings.NOTIFY_MAX_ATTEMPTS = 2
    _token(wecom)
    wecom.expect_request("/cgi-bin/message/send").respond_with_json({"errcode": 45009, "errmsg": "api freq out of limit"})
    with time_machine.travel("2026-11-27 09:00:00 +0800", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            notification = _send(alice)
    with time_machine.travel("2026-11-27 09:01:00 +0800", tick=False):
        delivery.deliver_due()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED and notification.attempt_log.count() == 2


def test_two_workers_deliver_a_row_once(wecom, alice):
    """L5: the claim is a conditional update; a second worker running the same task sends nothing."""
    _token(wecom)
    wecom.expect_request("/cgi-bin/message/send").respond_with_json({"errcode": 0, "errmsg": "ok", "msgid": "M"})
    notification = _send(alice)  # no on_commit execution: nobody delivered it yet
    assert delivery.deliver(notification.pk) == NotificationStatus.DELIVERED
    assert delivery.deliver(notification.pk) == "not due"
    # A claim held by a live worker (status sending, lease in the future) is not taken either.
    other = _send(alice, key="other")
    assert delivery.claim(Notification, other.pk, where={"status__in": delivery.DUE_STATUSES, "next_attempt_at__lte": timezone.now()},
                          changes={"status": NotificationStatus.SENDING, "next_attempt_at": timezone.now() + delivery.lease()})
    assert delivery.deliver(other.pk) == "not due"
    assert len(_requests(wecom, "/cgi-bin/message/send")) == 1


def test_a_dead_worker_lease_expires_and_the_sweep_recovers_the_row(wecom, alice):
    """L5: a worker that died mid-send leaves status `sending`; after the lease the sweep resends."""
    _token(wecom)
    wecom.expect_request("/cgi-bin/message/send").respond_with_json({"errcode": 0, "errmsg": "ok", "msgid": "M"})
    with time_machine.travel("2026-11-27 09:00:00 +0800", tick=False):
        notification = _send(alice)
        delivery.claim(Notification, notification.pk, where={}, changes={"status": NotificationStatus.SENDING, "next_attempt_at": timezone.now() + delivery.lease()})
        assert delivery.deliver_due() == 0
    with time_machine.travel("2026-11-27 09:02:00 +0800", tick=False):
        assert delivery.deliver_due() == 1
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED


def test_pacing_defers_messages_over_the_per_member_limit(wecom, alice, settings, django_capture_on_commit_callbacks):
    """L5: WeCom drops messages over 30/min per member silently, so the outbox paces itself."""
    settings.WECOM_APP_PER_MEMBER_PER_MINUTE = 2
    _token(wecom)
    wecom.expect_request("/cgi-bin/message/send").respond_with_json({"errcode": 0, "errmsg": "ok", "msgid": "M"})
    with time_machine.travel("2026-11-27 09:00:00 +0800", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            rows = [_send(alice, key=f"p{i}") for i in range(3)]
    for row in rows:
        row.refresh_from_db()
    assert [row.status for row in rows] == [NotificationStatus.DELIVERED, NotificationStatus.DELIVERED, NotificationStatus.PENDING]
    assert rows[2].attempts == 0 and rows[2].last_error.startswith("限速")
    assert len(_requests(wecom, "/cgi-bin/message/send")) == 2
    with time_machine.travel("2026-11-27 09:01:02 +0800", tick=False):
        assert delivery.deliver_due() == 1
    rows[2].refresh_from_db()
    assert rows[2].status == NotificationStatus.DELIVERED


def test_group_robot_markdown_mentions_the_rep(settings, httpserver, alice, django_capture_on_commit_callbacks):
    """L5: the group robot gets markdown with an @mention; a bad key (93000) fails the row."""
    settings.WECOM_API_BASE, settings.WECOM_ROBOT_KEY = httpserver.url_for("").rstrip("/"), "ROBOT-KEY"
    httpserver.expect_request("/cgi-bin/webhook/send", query_string={"key": "ROBOT-KEY"}).respond_with_json({"errcode": 0, "errmsg": "ok"})
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send(alice, channel=Channel.WECOM_ROBOT)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED
    body = json.loads(_requests(httpserver, "/cgi-bin/webhook/send")[0].data)
    assert body["msgtype"] == "markdown" and f"<@{alice.rep.wecom_userid}>" in body["markdown"]["content"]

    httpserver.clear_all_handlers()
    httpserver.expect_request("/cgi-bin/webhook/send").respond_with_json({"errcode": 93000, "errmsg": "invalid webhook url"})
    with django_capture_on_commit_callbacks(execute=True):
        broken = _send(alice, channel=Channel.WECOM_ROBOT, key="robot-2")
    broken.refresh_from_db()
    assert broken.status == NotificationStatus.FAILED


def test_email_channel_sends_the_link(settings, alice, django_capture_on_commit_callbacks):
    """L5: e-mail through Django's mailer (console by default, locmem in tests)."""
    settings.SITE_URL = "https://salesops.example"
    alice.email = "alice@example.com"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send(alice, channel=Channel.EMAIL)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"] and message.subject == "新线索：浙江省人民医院"
    assert "https://salesops.example/leads/ack/abc/" in message.body


def test_a_dead_channel_delays_nothing_else(settings, alice, django_capture_on_commit_callbacks):
    """L5: WeCom unreachable; in-app and e-mail to the same person arrive at once anyway."""
    settings.WECOM_CORP_ID, settings.WECOM_CORP_SECRET, settings.WECOM_AGENT_ID = "ww-corp", "app-secret", "1000002"
    settings.WECOM_API_BASE = "http://127.0.0.1:9"  # nothing listens: connection refused
    alice.email = "alice@example.com"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        wecom_row = _send(alice, key="w")
        in_app = _send(alice, channel=Channel.IN_APP, key="i")
        email = _send(alice, channel=Channel.EMAIL, key="e")
    for row in (wecom_row, in_app, email):
        row.refresh_from_db()
    assert wecom_row.status == NotificationStatus.PENDING and wecom_row.attempt_log.get().error_code == "network"
    assert in_app.status == email.status == NotificationStatus.DELIVERED


def test_missing_wecom_id_is_a_permanent_failure(wecom, alice, django_capture_on_commit_callbacks):
    alice.rep.wecom_userid = ""
    alice.rep.save()
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send(alice)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED and notification.attempt_log.get().error_code == "no_wecom_userid"


def test_email_uses_django_61_mailers_when_configured(settings, alice, django_capture_on_commit_callbacks):
    """L5: with MAILERS (Django 6.1, replacing EMAIL_HOST/EMAIL_PORT) the alias NOTIFY_MAILER sends."""
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}, "leads": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    settings.NOTIFY_MAILER = "leads"
    alice.email = "alice@example.com"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        notification = _send(alice, channel=Channel.EMAIL)
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.DELIVERED
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]


def test_group_robot_message_has_no_ack_link_and_no_full_phone(settings, httpserver, alice, django_capture_on_commit_callbacks):
    """R2: a new lead announced to the WeCom group carries neither the assignee's ack link nor
    the customer's full phone (139****5678); the rep's own channels keep the ack link."""
    from tests.factories import consented_intake
    from leads.services import lead_intake

    settings.WECOM_API_BASE, settings.WECOM_ROBOT_KEY = httpserver.url_for("").rstrip("/"), "ROBOT-KEY"
    httpserver.expect_request("/cgi-bin/webhook/send", query_string={"key": "ROBOT-KEY"}).respond_with_json({"errcode": 0, "errmsg": "ok"})
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_intake(data=consented_intake(contact_name="王主任", phone="+8613912345678", source="website")).lead
    robot_row = Notification.objects.get(channel=Channel.WECOM_ROBOT, payload__lead_id=lead.pk)
    assert robot_row.status == NotificationStatus.DELIVERED
    content = json.loads(_requests(httpserver, "/cgi-bin/webhook/send")[0].data)["markdown"]["content"]
    assert "/leads/ack/" not in content and f"/leads/{lead.pk}/" in content
    assert "139****5678" in content
    assert "5678" not in content.replace("139****5678", "") and "1234" not in content
    in_app = Notification.objects.get(channel=Channel.IN_APP, payload__lead_id=lead.pk, recipient=alice)
    assert "/leads/ack/" in in_app.url  # the rep's own inbox keeps the link (login + POST)


def test_robot_masks_phones_whatever_a_feature_put_in_the_row(settings, httpserver, alice, django_capture_on_commit_callbacks):
    """R2: the robot sender is the only door to the group: any phone written any way is masked and
    the row's own url (possibly personal) is never posted."""
    settings.WECOM_API_BASE, settings.WECOM_ROBOT_KEY = httpserver.url_for("").rstrip("/"), "ROBOT-KEY"
    httpserver.expect_request("/cgi-bin/webhook/send").respond_with_json({"errcode": 0, "errmsg": "ok"})
    with django_capture_on_commit_callbacks(execute=True):
        notification_enqueue(
            recipient=alice, channel=Channel.WECOM_ROBOT, title="客户 +86 139-1234-5678",
            body="电话 139 1234 5678 / 0571-87654321", url="/leads/ack/SECRET-TOKEN/", dedupe_key="robot-mask",
        )
    content = json.loads(_requests(httpserver, "/cgi-bin/webhook/send")[0].data)["markdown"]["content"]
    assert content.count("139****5678") == 2 and "0571****4321" in content
    assert "SECRET-TOKEN" not in content and "87654321" not in content
