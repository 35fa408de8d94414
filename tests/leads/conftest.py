"""Fixtures for the leads tests: signing, a small product catalogue, hospitals, reps with lines."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.cache import cache

from salesops.integrations.webhooks import signature_headers
from salesops.models import HospitalGrade

from ..factories import HospitalFactory, ProductFactory, ProductLineFactory

INTAKE_SECRET = "whsec_" + base64.b64encode(b"leads-intake-test-key-0123456789").decode()
DIALER_SECRET = "whsec_" + base64.b64encode(b"dialer-callback-test-key-9876543").decode()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and the WeCom token cache must not leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def intake_secret(settings) -> str:
    settings.LEAD_INTAKE_SECRETS = [INTAKE_SECRET]
    return INTAKE_SECRET


@pytest.fixture
def dialer_secret(settings) -> str:
    settings.DIALER_SECRETS = [DIALER_SECRET]
    return DIALER_SECRET


def consent(**overrides) -> dict:
    """P1: what the website backend sends with every lead: the notice version the person agreed
    to, when, and where."""
    from django.utils import timezone

    return {"version": "v1", "given_at": timezone.now().isoformat(), "channel": "website", **overrides}


def with_consent(path: str, payload):
    """Lead intakes carry the person's consent unless a test says otherwise (`"consent": None`
    or any explicit value)."""
    if path.rstrip("/").endswith("/api/v1/leads") and isinstance(payload, dict) and "consent" not in payload:
        return {**payload, "consent": consent()}
    return payload


def signed(client, path: str, payload=None, *, secret: str, msg_id: str | None = None, timestamp: int | None = None, raw: bytes | None = None):
    payload = with_consent(path, payload)
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = signature_headers(secret, body, msg_id=msg_id, timestamp=timestamp)
    return client.post(path, data=body, content_type="application/json", headers=headers)


@pytest.fixture
def post_lead(client, intake_secret):
    """POST /api/v1/leads signed with the configured secret."""

    def _post(payload=None, **kwargs):
        kwargs.setdefault("secret", intake_secret)
        return signed(client, "/api/v1/leads", payload, **kwargs)

    return _post


@pytest.fixture
def joint(db):
    return ProductLineFactory(code="joint", name="关节类")


@pytest.fixture
def spine(db):
    return ProductLineFactory(code="spine", name="脊柱类")


@pytest.fixture
def hip(joint):
    return ProductFactory(model_number="AK-HIP-01", name="人工髋关节假体", line=joint)


@pytest.fixture
def pedicle(spine):
    return ProductFactory(model_number="SP-PED-01", name="椎弓根螺钉系统", line=spine)


@pytest.fixture
def hospital_3a(db):
    return HospitalFactory(name="浙江省人民医院", grade=HospitalGrade.GRADE_3A)


@pytest.fixture
def hospital_private(db):
    return HospitalFactory(name="杭州西湖骨科医院", grade=HospitalGrade.PRIVATE, city="杭州")


def lead_payload(**overrides) -> dict:
    payload = {
        "name": "王主任",
        "phone": "13800001111",
        "product_model": "AK-HIP-01",
        "hospital": "浙江省人民医院",
        "hospital_grade": "3A",
        "source": "website",
        "note": "想了解髋关节",
    }
    payload.update(overrides)
    return payload
