"""Standard Webhooks 1.0 (standardwebhooks.com), both directions.

Headers: `webhook-id`, `webhook-timestamp` (Unix seconds), `webhook-signature` =
space-separated `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")>` entries (several
during key rotation). Secrets are written `whsec_<base64 key>`. A timestamp more than five minutes
away from now is rejected, so a captured request cannot be replayed later; replays inside the
window are answered from the receiver's store of `webhook-id`s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The request is not signed by a sender we trust (the message says why, for logs and the 401)."""


def decode_secret(secret: str) -> bytes:
    value = secret.strip()
    if value.startswith(SECRET_PREFIX):
        value = value[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("webhook secret is not whsec_<base64>") from exc
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    """The three headers a sender adds (used for our outgoing calls and by tests)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(secrets: Iterable[str], headers: Mapping[str, str], body: bytes, *, tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> str:
    """Return the verified `webhook-id`, or raise WebhookVerificationError."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    msg_id = (lowered.get("webhook-id") or "").strip()
    raw_timestamp = (lowered.get("webhook-timestamp") or "").strip()
    raw_signatures = (lowered.get("webhook-signature") or "").strip()
    if not msg_id or not raw_timestamp or not raw_signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    if len(msg_id) > 200:
        raise WebhookVerificationError("webhook-id too long")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a Unix time") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp outside the 5-minute tolerance")
    keys = []
    for secret in secrets:
        try:
            keys.append(decode_secret(secret))
        except ValueError:
            continue  # a malformed configured secret must not break the valid ones
    if not keys:
        raise WebhookVerificationError("no webhook secret configured")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = [base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()) for key in keys]
    for entry in raw_signatures.split():
        version, _, signature = entry.partition(",")
        if version != "v1" or not signature:
            continue
        given = signature.encode()
        if any(hmac.compare_digest(given, candidate) for candidate in expected):
            return msg_id
    raise WebhookVerificationError("no matching v1 signature")
