"""U4: Web Push is an outbox channel beside WeCom, e-mail and in-app. A rep's browser subscribes;
a new lead assigned to her is POSTed, encrypted (aes128gcm) and signed (VAPID), to the
subscription's endpoint — here a local push service that checks the headers and decrypts."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from leads.intake import IntakeData  # noqa: F401

from ..factories import consented_intake
from leads.services import channels_for, lead_intake
from salesops.delivery import deliver
from salesops.integrations import webpush
from salesops.models import Channel, Notification, NotificationStatus, PushSubscription

pytestmark = pytest.mark.django_db


class PushService:
    """A push service on 127.0.0.1: records each POST and answers `status`."""

    def __init__(self, status: int = 201) -> None:
        self.received: list[dict] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                outer.received.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)})
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/push/abc123"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local_push(settings):
    settings.WEBPUSH_ALLOW_HTTP = True
    settings.WEBPUSH_ALLOWED_HOSTS = ["127.0.0.1"]
    with PushService() as service:
        yield service


@pytest.fixture
def browser_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    return private, os.urandom(16)


def subscribe(client, user, endpoint, browser_keys):
    private, auth = browser_keys
    client.force_login(user)
    body = {"endpoint": endpoint, "keys": {"p256dh": webpush.b64url(webpush.public_bytes(private.public_key())), "auth": webpush.b64url(auth)}}
    return client.post("/push/subscriptions/", json.dumps(body), content_type="application/json")


def verify_vapid(header: str, endpoint: str) -> dict:
    assert header.startswith("vapid t=")
    token, key = header[len("vapid t="):].split(", k=")
    assert key == webpush.vapid_public_key()
    head, claims, signature = token.split(".")
    raw = webpush.b64url_decode(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), webpush.b64url_decode(key))
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")), f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert data["aud"] == endpoint.rsplit("/push/", 1)[0] and data["sub"].startswith("mailto:")
    return data


def test_new_lead_reaches_the_reps_subscribed_browser(client, alice, bob, charlie, local_push, browser_keys):
    """U4: subscribe → a new lead assigned to alice → an encrypted, VAPID-signed POST with a TTL
    to her endpoint that her browser's keys decrypt to the lead's title and page."""
    assert subscribe(client, alice, local_push.endpoint, browser_keys).status_code == 201
    assert Channel.WEB_PUSH in channels_for("assignment", alice)
    assert Channel.WEB_PUSH not in channels_for("assignment", bob)  # no subscription, no push row
    for user in (bob, charlie):
        user.rep.on_duty = False
        user.rep.save()
    lead = lead_intake(data=consented_intake(contact_name="推送客户", phone="+8613800007777")).lead
    assert lead.assignee == alice
    row = Notification.objects.get(recipient=alice, channel=Channel.WEB_PUSH)
    deliver(row.pk)
    row.refresh_from_db()
    assert row.status == NotificationStatus.DELIVERED
    [message] = local_push.received
    headers = {name.lower(): value for name, value in message["headers"].items()}
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    verify_vapid(headers["authorization"], local_push.endpoint)
    private, auth = browser_keys
    payload = json.loads(webpush.decrypt(message["body"], private, auth))
    assert "新线索" in payload["title"] and payload["url"]


def test_a_gone_subscription_is_switched_off(client, alice, settings, browser_keys):
    """U4: the push service says 410: the subscription is deactivated (history kept), not retried."""
    settings.WEBPUSH_ALLOW_HTTP, settings.WEBPUSH_ALLOWED_HOSTS = True, ["127.0.0.1"]
    with PushService(status=410) as service:
        subscribe(client, alice, service.endpoint, browser_keys)
        row = Notification.objects.create(recipient=alice, channel=Channel.WEB_PUSH, title="新线索：测试")
        deliver(row.pk)
    row.refresh_from_db()
    subscription = PushSubscription.objects.get(user=alice)
    assert row.status == NotificationStatus.FAILED and subscription.active is False
    assert subscription.history.count() == 2


def test_subscriptions_only_to_push_services_and_well_formed_keys(client, alice, browser_keys):
    """U4: the endpoint is user input: only the browsers' push services (no SSRF), https, and
    keys of the right shape — answered 400 naming the field."""
    response = subscribe(client, alice, "http://127.0.0.1:6390/", browser_keys)
    assert response.status_code == 400 and "endpoint" in response.json()["fields"]
    body = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": {"p256dh": "short", "auth": "x"}}
    response = client.post("/push/subscriptions/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and "p256dh" in response.json()["fields"]
    assert client.post("/push/subscriptions/", "not json", content_type="application/json").status_code == 400
    assert subscribe(client, alice, "https://fcm.googleapis.com/fcm/send/abc", browser_keys).status_code == 201
    assert not PushSubscription.objects.exclude(endpoint__startswith="https://fcm.googleapis.com/").exists()


def test_encryption_round_trip_matches_rfc8291_layout(browser_keys):
    """U4: header = salt(16) | rs(4) | idlen(1)=65 | keyid(65), then one record."""
    private, auth = browser_keys
    body = webpush.encrypt(b'{"title":"hi"}', webpush.public_bytes(private.public_key()), auth)
    assert int.from_bytes(body[16:20], "big") == 4096 and body[20] == 65 and body[21] == 4
    assert webpush.decrypt(body, private, auth) == b'{"title":"hi"}'


def test_lead_page_shows_the_acknowledgement_countdown_from_the_server_deadline(client, alice, bob, charlie):
    """U4: the assignee's lead page carries the deadline (assigned + ack timeout) for the JS
    countdown; once acknowledged it is gone."""
    from datetime import timedelta

    from django.utils import timezone

    from leads.models import AssignmentRules

    for user in (bob, charlie):
        user.rep.on_duty = False
        user.rep.save()
    lead = lead_intake(data=consented_intake(contact_name="倒计时客户", phone="+8613800006666")).lead
    client.force_login(alice)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    deadline = timezone.localtime(lead.assigned_at + timedelta(minutes=AssignmentRules.live().ack_timeout_minutes))
    assert f'data-deadline="{deadline.isoformat()}"' in page and "pwa/register.js" in page
    client.post(f"/leads/{lead.pk}/acknowledge/")
    lead.refresh_from_db()
    assert lead.acknowledged_at is not None
    assert "data-deadline" not in client.get(f"/leads/{lead.pk}/").content.decode()
