"""R4 on PostgreSQL too: inputs SQLite stores but PostgreSQL refuses (a NUL character, a username
longer than axes' column) are answered, never a 500 — whatever the database."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/leads/?q=a%00b", "/leads/a%00b/", "/admin/django_q/success/a%00b/change/", "/customers/?q%00=x"],
)
def test_a_nul_character_in_the_url_is_a_400_that_says_so(client, alice, url):
    """R4 NUL in a path segment or a query parameter (name or value) is refused before any query."""
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 400
    assert "空字符" in response.content.decode()


@pytest.mark.django_db
def test_a_nul_character_in_a_posted_form_is_a_400(client):
    """R4 the public form with a NUL in a field: 400 with the reason, nothing stored."""
    from leads.models import Lead

    response = client.post("/leads/form/", {"name": "周\x00主任", "phone": "13800006666"})
    assert response.status_code == 400 and "空字符" in response.content.decode()
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_a_20_kb_username_is_a_failed_login_not_a_500(alice):
    """R4/R5 axes records the attempt with the username cut to 150 characters (PostgreSQL's
    varchar(255) refused the whole text)."""
    from axes.models import AccessAttempt, AccessFailureLog

    client = Client()
    response = client.post(reverse("login"), {"username": "x" * 20_000, "password": "wrong"}, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 200
    recorded = {len(row.username) for row in AccessFailureLog.objects.all()} | {len(row.username) for row in AccessAttempt.objects.all()}
    assert recorded and recorded <= {150}
