"""U4: Web Push to a phone's browser — VAPID (RFC 8292) and the aes128gcm payload encryption
(RFC 8291, RFC 8188), written with `cryptography` alone (no extra package).

`send(subscription_info, payload)` POSTs one encrypted message to the push service's endpoint and
raises `IntegrationError` like every other integration (`gone` when the subscription has expired:
the caller switches it off)."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from django.conf import settings

from . import IntegrationError, _timeout

RECORD_SIZE = 4096


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = (text or "").strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@lru_cache(maxsize=1)
def _development_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def vapid_private_key() -> ec.EllipticCurvePrivateKey:
    """The configured VAPID key (base64url raw 32-byte scalar or PEM); in development without one,
    a key made for this process."""
    raw = getattr(settings, "WEBPUSH_VAPID_PRIVATE_KEY", "")
    if not raw:
        return _development_key()
    if "BEGIN" in raw:
        return serialization.load_pem_private_key(raw.encode(), password=None)
    return ec.derive_private_key(int.from_bytes(b64url_decode(raw), "big"), ec.SECP256R1())


def vapid_public_key() -> str:
    """applicationServerKey for `pushManager.subscribe` (base64url uncompressed point)."""
    return b64url(public_bytes(vapid_private_key().public_key()))


def vapid_authorization(endpoint: str, *, now: float | None = None) -> str:
    """`vapid t=<JWT ES256>, k=<public key>` for the endpoint's origin (RFC 8292)."""
    parts = urlsplit(endpoint)
    claims = {
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int((now or time.time()) + 12 * 3600),
        "sub": getattr(settings, "WEBPUSH_VAPID_SUBJECT", "mailto:ops@example.com"),
    }
    header = b64url(json.dumps({"typ": "JWT", "alg": "ES256"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode()
    r, s = decode_dss_signature(vapid_private_key().sign(signing_input, ec.ECDSA(hashes.SHA256())))
    signature = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    return f"vapid t={header}.{body}.{signature}, k={vapid_public_key()}"


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def encrypt(payload: bytes, user_agent_public: bytes, auth_secret: bytes, *, salt: bytes | None = None, server_key=None) -> bytes:
    """RFC 8291 §3.4: one aes128gcm record with the header salt | rs | idlen | keyid."""
    salt = salt or os.urandom(16)
    server_key = server_key or ec.generate_private_key(ec.SECP256R1())
    server_public = public_bytes(server_key.public_key())
    ua_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), user_agent_public)
    shared = server_key.exchange(ec.ECDH(), ua_key)
    ikm = _hkdf(auth_secret, shared, b"WebPush: info\x00" + user_agent_public + server_public, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    if len(payload) > RECORD_SIZE - 17 - 86:
        raise IntegrationError("web push payload too large", retryable=False, code="too_large")
    ciphertext = AESGCM(cek).encrypt(nonce, payload + b"\x02", None)
    return salt + RECORD_SIZE.to_bytes(4, "big") + bytes([len(server_public)]) + server_public + ciphertext


def decrypt(body: bytes, user_agent_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """What the browser does (used by tests and the local push endpoint)."""
    salt, idlen = body[:16], body[20]
    server_public = body[21 : 21 + idlen]
    ciphertext = body[21 + idlen :]
    ua_public = public_bytes(user_agent_private.public_key())
    shared = user_agent_private.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), server_public))
    ikm = _hkdf(auth_secret, shared, b"WebPush: info\x00" + ua_public + server_public, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    plain = AESGCM(cek).decrypt(nonce, ciphertext, None)
    return plain.rstrip(b"\x00")[:-1]  # drop padding and the 0x02 delimiter


def send(*, endpoint: str, p256dh: str, auth: str, payload: dict, ttl: int | None = None, urgency: str = "high") -> int:
    """POST one message; returns the push service's status (201/202). 404/410: `gone`."""
    if urlsplit(endpoint).scheme not in ("https", "http"):
        raise IntegrationError("web push endpoint is not http(s)", retryable=False, code="bad_endpoint")
    body = encrypt(json.dumps(payload, ensure_ascii=False).encode("utf-8"), b64url_decode(p256dh), b64url_decode(auth))
    request = urllib.request.Request(
        endpoint,
        data=body,
        method="POST",
        headers={
            "Authorization": vapid_authorization(endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(ttl if ttl is not None else int(getattr(settings, "WEBPUSH_TTL_SECONDS", 3600))),
            "Urgency": urgency,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=_timeout(None)) as response:  # noqa: S310 - the browser's push service
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (TimeoutError, OSError) as exc:
        raise IntegrationError(f"network: {exc}", code="network") from exc
    if status in (404, 410):
        raise IntegrationError(f"web push subscription gone ({status})", retryable=False, code="gone")
    if status == 429 or status >= 500:
        raise IntegrationError(f"web push service answered {status}", code="network")
    if status >= 400:
        raise IntegrationError(f"web push refused ({status})", retryable=False, code=str(status))
    return status
