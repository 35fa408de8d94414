"""R6 Rate limits hold across processes with nothing but the database; X-Forwarded-For is read
only from configured proxies; the public form's limit counts after the honeypot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse

from leads import ratelimit
from leads.models import Lead

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import django, os, sys
django.setup()
from leads import ratelimit
allowed = [ratelimit.hit("public-form", "203.0.113.7", limit=10, window=600)[0] for _ in range(int(sys.argv[1]))]
print(sum(allowed))
"""


@pytest.fixture
def clean_ratelimit_cache():
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


@pytest.mark.django_db(transaction=True)
def test_two_processes_share_one_limit(clean_ratelimit_cache, settings):
    """R6 Another OS process counting in the same database uses up the same allowance."""
    if connection.vendor != "sqlite" or not settings.CACHES["ratelimit"]["BACKEND"].endswith("DatabaseCache"):
        pytest.skip("the subprocess shares the SQLite test database file (with Redis, Redis is the shared counter)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "salesops.settings", "SALESOPS_TESTING": "1",
           "SQLITE_PATH": connection.settings_dict["NAME"]}
    env.pop("DATABASE_URL", None)
    child = subprocess.run([sys.executable, "-c", CHILD, "7"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "7"
    here = [ratelimit.hit("public-form", "203.0.113.7", limit=10, window=600)[0] for _ in range(7)]
    assert here == [True, True, True, False, False, False, False]


def _request(remote: str, forwarded: str = ""):
    request = RequestFactory().post("/leads/form/", REMOTE_ADDR=remote)
    if forwarded:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(settings):
    """R6 A client talking to us directly cannot pick its IP with X-Forwarded-For."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert ratelimit.client_ip(_request("198.51.100.9", "1.2.3.4")) == "198.51.100.9"
    assert ratelimit.client_ip(_request("10.0.0.2", "1.2.3.4")) == "1.2.3.4"
    # a client behind the proxy prepends a made-up address: the proxy's own entry (right-most) wins
    assert ratelimit.client_ip(_request("10.0.0.2", "6.6.6.6, 198.51.100.9")) == "198.51.100.9"
    assert ratelimit.client_ip(_request("10.0.0.2", "6.6.6.6, 198.51.100.9, 10.0.0.3")) == "198.51.100.9"
    assert ratelimit.client_ip(_request("10.0.0.2", "garbage")) == "10.0.0.2"
    settings.TRUSTED_PROXIES = []
    assert ratelimit.client_ip(_request("10.0.0.2", "1.2.3.4")) == "10.0.0.2"


@pytest.mark.django_db
def test_made_up_forwarded_for_does_not_bypass_the_form_limit(clean_ratelimit_cache, settings):
    """R6 30 posts from one IP with 30 different X-Forwarded-For values: only the limit passes."""
    settings.LEAD_FORM_RATE_LIMIT = (5, 600)
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    client = Client()
    codes = [
        client.post(reverse("leads:public_form"), {"name": "x"}, REMOTE_ADDR="198.51.100.20",
                    HTTP_X_FORWARDED_FOR=f"1.1.1.{n}").status_code
        for n in range(30)
    ]
    assert codes.count(429) == 25


@pytest.mark.django_db
def test_honeypot_posts_do_not_use_up_the_limit(clean_ratelimit_cache, settings):
    """R6 Bots filling the honeypot get a fake success and do not lock out real people on the IP."""
    honeypot = "website"  # leads.intake.PublicLeadForm
    settings.LEAD_FORM_RATE_LIMIT = (2, 600)
    client = Client()
    for _ in range(10):
        assert client.post(reverse("leads:public_form"), {honeypot: "spam", "name": "bot"}, REMOTE_ADDR="198.51.100.30").status_code == 200
    assert Lead.objects.count() == 0
    assert ratelimit.hit("public-form", "198.51.100.30", limit=2, window=600)[0] is True
